/**
 * The coordinators' replicated metadata: blobs, the volume registry and the outcome of
 * writes aborted by the presumed-abort rule. Commands travel as Raft entries and are applied
 * by every coordinator alike (CommandHandler: deterministic, no clock — times come inside
 * the commands, from the proposer).
 *
 * Keyspace of the state machine (bytewise order, so blobs list in UTF-8 byte order):
 *   0x01 + utf8(key)  → BlobMeta (JSON)
 *   0x02 + volumeId   → VolumeRecord (JSON)
 *   0x03 + txid       → AbortedTx (JSON): a prepared write decided aborted; its late
 *                       putBlob is refused, so a write never becomes visible after its abort.
 *                       Pruned (pruneAborted) once older than any putBlob can arrive late.
 * Command encoding: one byte METADATA_TAG (format version), then the command as UTF-8 JSON.
 */
import { ErrorCode, MinikvError } from "../common/errors.js";
import { validateKey } from "../common/keys.js";
import type { ApplyTx, CommandHandler } from "./raft/command-handler.js";

/** First byte of every metadata command: distinct from the plain key-value commands' tags (1–3), which share the log. */
export const METADATA_TAG = 0x10;
const FORMAT_VERSION = METADATA_TAG;
export const PREFIX = { blob: 0x01, volume: 0x02, abortedTx: 0x03 } as const;
/** Abort records one pruneAborted command may list (it stays one small Raft entry). */
export const PRUNE_TXIDS_MAX = 1000;

/** What the coordinators know of one blob. `version` is the Raft index of its putBlob. */
export interface BlobMeta {
  readonly key: string;
  readonly size: number;
  /** CRC32C of the whole value, as the volumes verified it. */
  readonly crc32c: number;
  readonly etag: string;
  readonly contentType: string;
  /** Volume ids holding a committed copy, in placement order. */
  readonly replicas: readonly string[];
  readonly version: number;
  readonly txid: string;
  readonly createdAtMs: number;
}

export type VolumeAdminState = "active" | "draining";

/** A registered volume. Liveness is not here: it is the leader's soft state (heartbeats). */
export interface VolumeRecord {
  readonly id: string;
  readonly grpcAddress: string;
  readonly httpUrl: string;
  readonly capacityBytes: number;
  readonly state: VolumeAdminState;
  readonly registeredAtMs: number;
}

export interface AbortedTx {
  readonly txid: string;
  readonly key: string;
  readonly atMs: number;
}

export type MetadataCommand =
  | {
      readonly op: "putBlob";
      readonly key: string;
      readonly size: number;
      readonly crc32c: number;
      readonly contentType: string;
      readonly replicas: readonly string[];
      readonly txid: string;
      readonly atMs: number;
    }
  | { readonly op: "deleteBlob"; readonly key: string; readonly atMs: number }
  /** Repair/rebalance: replaces the replica list if the blob is still at `version`. */
  | {
      readonly op: "setReplicas";
      readonly key: string;
      readonly version: number;
      readonly replicas: readonly string[];
    }
  /** Presumed abort: decides a prepared write's fate unless its putBlob already applied. */
  | { readonly op: "abortTx"; readonly txid: string; readonly key: string; readonly atMs: number }
  | {
      readonly op: "registerVolume";
      readonly id: string;
      readonly grpcAddress: string;
      readonly httpUrl: string;
      readonly capacityBytes: number;
      readonly atMs: number;
    }
  | { readonly op: "setVolumeState"; readonly id: string; readonly state: VolumeAdminState }
  /** Forgets the listed abort records decided before `beforeMs` (see abort-pruner.ts). */
  | { readonly op: "pruneAborted"; readonly txids: readonly string[]; readonly beforeMs: number };

export type MetadataResult =
  | { readonly op: "putBlob"; readonly blob: BlobMeta; readonly previous: BlobMeta | null }
  | { readonly op: "deleteBlob"; readonly previous: BlobMeta | null }
  | { readonly op: "setReplicas"; readonly blob: BlobMeta }
  | { readonly op: "abortTx"; readonly outcome: "aborted" }
  | { readonly op: "abortTx"; readonly outcome: "committed"; readonly version: number }
  | { readonly op: "registerVolume"; readonly volume: VolumeRecord }
  | { readonly op: "setVolumeState"; readonly volume: VolumeRecord }
  | { readonly op: "pruneAborted"; readonly pruned: number };

export function encodeMetadataCommand(command: MetadataCommand): Uint8Array {
  return Buffer.concat([Buffer.from([FORMAT_VERSION]), Buffer.from(JSON.stringify(command), "utf8")]);
}

export function decodeMetadataCommand(bytes: Uint8Array): MetadataCommand {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer[0] !== FORMAT_VERSION) throw invalid(`unknown command format ${buffer[0] ?? "(empty)"}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(buffer.subarray(1).toString("utf8"));
  } catch (cause) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "undecodable metadata command", { cause });
  }
  return checkCommand(parsed);
}

export function blobKey(key: string): Uint8Array {
  return Buffer.concat([Buffer.from([PREFIX.blob]), Buffer.from(key, "utf8")]);
}

export function volumeKey(id: string): Uint8Array {
  return Buffer.concat([Buffer.from([PREFIX.volume]), Buffer.from(id, "utf8")]);
}

export function abortedTxKey(txid: string): Uint8Array {
  return Buffer.concat([Buffer.from([PREFIX.abortedTx]), Buffer.from(txid, "utf8")]);
}

export function decodeJson<T>(bytes: Uint8Array | undefined): T | null {
  return bytes === undefined ? null : (JSON.parse(Buffer.from(bytes).toString("utf8")) as T);
}

function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** A strong ETag unique to one write: its version and its content's CRC32C. */
export function etagOf(version: number, crc32c: number): string {
  return `"${version.toString(16)}-${crc32c.toString(16).padStart(8, "0")}"`;
}

/** Applies metadata commands (see the module comment for the keyspace). */
export const metadataCommandHandler: CommandHandler<MetadataResult> = {
  async apply(command: Uint8Array, tx: ApplyTx, index: number): Promise<MetadataResult> {
    const cmd = decodeMetadataCommand(command);
    switch (cmd.op) {
      case "putBlob":
        return applyPutBlob(cmd, tx, index);
      case "deleteBlob": {
        const previous = decodeJson<BlobMeta>(await tx.get(blobKey(cmd.key)));
        if (previous !== null) tx.del(blobKey(cmd.key));
        return { op: "deleteBlob", previous };
      }
      case "setReplicas":
        return applySetReplicas(cmd, tx);
      case "abortTx":
        return applyAbortTx(cmd, tx);
      case "registerVolume":
        return applyRegisterVolume(cmd, tx);
      case "pruneAborted":
        return applyPruneAborted(cmd, tx);
      case "setVolumeState": {
        const current = decodeJson<VolumeRecord>(await tx.get(volumeKey(cmd.id)));
        if (current === null) throw new MinikvError(ErrorCode.NOT_FOUND, `no volume "${cmd.id}"`);
        const volume: VolumeRecord = { ...current, state: cmd.state };
        tx.put(volumeKey(cmd.id), encodeJson(volume));
        return { op: "setVolumeState", volume };
      }
    }
  },
};

async function applyPutBlob(
  cmd: Extract<MetadataCommand, { op: "putBlob" }>,
  tx: ApplyTx,
  index: number,
): Promise<MetadataResult> {
  if ((await tx.get(abortedTxKey(cmd.txid))) !== undefined) {
    throw new MinikvError(ErrorCode.CONFLICT, `write ${cmd.txid} was already aborted`);
  }
  const previous = decodeJson<BlobMeta>(await tx.get(blobKey(cmd.key)));
  // The same proposal applied twice (a forwarded retry) is one write.
  if (previous !== null && previous.txid === cmd.txid)
    return { op: "putBlob", blob: previous, previous: null };
  const blob: BlobMeta = {
    key: cmd.key,
    size: cmd.size,
    crc32c: cmd.crc32c,
    etag: etagOf(index, cmd.crc32c),
    contentType: cmd.contentType,
    replicas: cmd.replicas,
    version: index,
    txid: cmd.txid,
    createdAtMs: cmd.atMs,
  };
  tx.put(blobKey(cmd.key), encodeJson(blob));
  return { op: "putBlob", blob, previous };
}

async function applySetReplicas(
  cmd: Extract<MetadataCommand, { op: "setReplicas" }>,
  tx: ApplyTx,
): Promise<MetadataResult> {
  const current = decodeJson<BlobMeta>(await tx.get(blobKey(cmd.key)));
  if (current === null) throw new MinikvError(ErrorCode.KEY_NOT_FOUND, `no blob "${cmd.key}"`);
  if (current.version !== cmd.version) {
    throw new MinikvError(
      ErrorCode.CONFLICT,
      `blob "${cmd.key}" changed (version ${current.version}, expected ${cmd.version})`,
    );
  }
  const blob: BlobMeta = { ...current, replicas: cmd.replicas };
  tx.put(blobKey(cmd.key), encodeJson(blob));
  return { op: "setReplicas", blob };
}

async function applyAbortTx(
  cmd: Extract<MetadataCommand, { op: "abortTx" }>,
  tx: ApplyTx,
): Promise<MetadataResult> {
  const current = decodeJson<BlobMeta>(await tx.get(blobKey(cmd.key)));
  if (current !== null && current.txid === cmd.txid)
    return { op: "abortTx", outcome: "committed", version: current.version };
  const record: AbortedTx = { txid: cmd.txid, key: cmd.key, atMs: cmd.atMs };
  tx.put(abortedTxKey(cmd.txid), encodeJson(record));
  return { op: "abortTx", outcome: "aborted" };
}

async function applyPruneAborted(
  cmd: Extract<MetadataCommand, { op: "pruneAborted" }>,
  tx: ApplyTx,
): Promise<MetadataResult> {
  let pruned = 0;
  for (const txid of cmd.txids) {
    const record = decodeJson<AbortedTx>(await tx.get(abortedTxKey(txid)));
    // Checked again here: only what the proposer saw as old enough, whatever it listed.
    if (record === null || record.atMs >= cmd.beforeMs) continue;
    tx.del(abortedTxKey(txid));
    pruned += 1;
  }
  return { op: "pruneAborted", pruned };
}

async function applyRegisterVolume(
  cmd: Extract<MetadataCommand, { op: "registerVolume" }>,
  tx: ApplyTx,
): Promise<MetadataResult> {
  const current = decodeJson<VolumeRecord>(await tx.get(volumeKey(cmd.id)));
  const volume: VolumeRecord = {
    id: cmd.id,
    grpcAddress: cmd.grpcAddress,
    httpUrl: cmd.httpUrl,
    capacityBytes: cmd.capacityBytes,
    // Re-registration (a restart, a new address) keeps an operator's drain.
    state: current?.state ?? "active",
    registeredAtMs: current?.registeredAtMs ?? cmd.atMs,
  };
  tx.put(volumeKey(cmd.id), encodeJson(volume));
  return { op: "registerVolume", volume };
}

function invalid(message: string): MinikvError {
  return new MinikvError(ErrorCode.INVALID_ARGUMENT, message);
}

const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isIdList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((id) => isString(id) && id.length > 0);

/** Checks a decoded command's shape; a malformed one is refused, never applied half-way. */
function checkCommand(value: unknown): MetadataCommand {
  if (typeof value !== "object" || value === null) throw invalid("metadata command is not an object");
  const c = value as Record<string, unknown>;
  const ok = (() => {
    switch (c["op"]) {
      case "putBlob":
        return (
          isString(c["key"]) &&
          isCount(c["size"]) &&
          isCount(c["crc32c"]) &&
          isString(c["contentType"]) &&
          isIdList(c["replicas"]) &&
          isString(c["txid"]) &&
          isCount(c["atMs"])
        );
      case "deleteBlob":
        return isString(c["key"]) && isCount(c["atMs"]);
      case "setReplicas":
        return isString(c["key"]) && isCount(c["version"]) && isIdList(c["replicas"]);
      case "abortTx":
        return isString(c["txid"]) && isString(c["key"]) && isCount(c["atMs"]);
      case "registerVolume":
        return (
          isString(c["id"]) &&
          isString(c["grpcAddress"]) &&
          isString(c["httpUrl"]) &&
          isCount(c["capacityBytes"]) &&
          isCount(c["atMs"])
        );
      case "setVolumeState":
        return isString(c["id"]) && (c["state"] === "active" || c["state"] === "draining");
      case "pruneAborted":
        return (
          Array.isArray(c["txids"]) &&
          c["txids"].length <= PRUNE_TXIDS_MAX &&
          c["txids"].every(isString) &&
          isCount(c["beforeMs"])
        );
      default:
        return false;
    }
  })();
  if (!ok) throw invalid(`malformed metadata command ${JSON.stringify(c["op"] ?? null)}`);
  if (isString(c["key"]) && c["op"] !== "abortTx") validateKey(c["key"]);
  return value as MetadataCommand;
}
