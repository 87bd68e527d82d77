/**
 * One pass over the whole cluster, shared by verify and repair: the metadata (in key order)
 * merged with every volume's listing (in the same order, prepared records included). Each
 * blob's recorded replicas are checked against the listings (and, deep, checksummed where
 * they lie); each listed entry no metadata points to is an orphan. Anything that looks wrong
 * is confirmed against fresh metadata and the volume before it is reported, so writes and
 * moves going on during the scan are not reported as problems. Memory is bounded by a page of
 * metadata, a listing batch per volume and the tasks in flight.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, isMinikvError } from "../../common/errors.js";
import { compareKeys } from "../../common/keys.js";
import type { VolumeKeyInfo } from "../../common/volume-client.js";
import type { BlobMeta } from "../metadata-commands.js";
import type { AdminJobConfig } from "./admin-config.js";
import type { ClusterAccess } from "./cluster-access.js";
import { EntryCursor, MetadataCursor } from "./scan-cursors.js";
import { TaskPool } from "./task-pool.js";

export type ReplicaState = "ok" | "missing" | "stale" | "corrupt" | "unavailable";

/** One recorded replica of a blob as the scan found it. */
export interface ReplicaCheck {
  readonly volumeId: string;
  readonly state: ReplicaState;
  /** Why it is not ok (null when ok). */
  readonly detail: string | null;
}

/** A blob and the state of each of its recorded replicas, in the metadata's order. */
export interface BlobCheck {
  readonly blob: BlobMeta;
  readonly replicas: readonly ReplicaCheck[];
}

/**
 * no-metadata: the key has no blob; not-a-replica: the blob does not list this volume;
 * older-version: the volume is not a replica and holds a version the blob has moved past;
 * prepared: a prepared record no write will decide (older than preparedInFlightMs).
 */
export type OrphanReason = "no-metadata" | "not-a-replica" | "older-version" | "prepared";

/** A record on a volume that no metadata points to, confirmed against fresh metadata. */
export interface OrphanEntry {
  readonly volumeId: string;
  readonly key: string;
  /** 0 for a prepared record. */
  readonly version: number;
  readonly prepared: boolean;
  readonly txid: string;
  readonly createdAtMs: number;
  readonly reason: OrphanReason;
}

/** What a scan hands to its user. Handlers run inside the scan's bounded concurrency. */
export interface ScanHandlers {
  /** Every blob whose metadata did not change during its check, healthy or not. */
  blob(check: BlobCheck): Promise<void>;
  orphan(orphan: OrphanEntry): Promise<void>;
}

export interface ScanOptions {
  /** Also checksum every copy where it lies (no transfer). */
  readonly deep: boolean;
  readonly config: AdminJobConfig;
  readonly signal: AbortSignal;
  readonly progress: (done: number, total: number) => void;
  readonly now: () => number;
}

export interface ScanSummary {
  /** Blobs in the metadata when the scan passed them. */
  readonly keys: number;
  readonly replicasChecked: number;
  /** Blobs skipped because they were overwritten, deleted or moved during their check. */
  readonly changedDuringScan: number;
  readonly volumes: number;
  /** Volumes down, or that failed to list their keys: their copies count as unavailable. */
  readonly unreachableVolumes: readonly string[];
}

interface ScanState {
  readonly access: ClusterAccess;
  readonly options: ScanOptions;
  readonly handlers: ScanHandlers;
  readonly unreachable: Set<string>;
  readonly listedAtMs: number;
  keys: number;
  replicasChecked: number;
  changed: number;
  totalEstimate: number;
}

/** A listed entry with the volume it came from. */
interface ListedEntry {
  readonly volumeId: string;
  readonly info: VolumeKeyInfo;
}

const CHANGED = "changed";

export async function scanCluster(
  access: ClusterAccess,
  options: ScanOptions,
  handlers: ScanHandlers,
): Promise<ScanSummary> {
  const views = await access.volumes();
  const unreachable = new Set(views.filter((v) => !v.alive).map((v) => v.record.id));
  const reachable = views.filter((v) => v.alive).map((v) => v.record.id);
  const state: ScanState = {
    access,
    options,
    handlers,
    unreachable,
    listedAtMs: options.now(),
    keys: 0,
    replicasChecked: 0,
    changed: 0,
    totalEstimate: await blobCountEstimate(access, reachable),
  };
  const cursors = reachable.map(
    (id) =>
      new EntryCursor(
        id,
        access.volumeClient(id).listKeys({ includePrepared: true, signal: options.signal }),
        () => unreachable.add(id),
      ),
  );
  const metadata = new MetadataCursor(access, options.config.metadataPageBlobs);
  const pool = new TaskPool(options.config.scanConcurrency);
  try {
    await mergeKeys(state, metadata, cursors, pool);
    await pool.drain();
  } finally {
    for (const cursor of cursors) await cursor.close();
  }
  return {
    keys: state.keys,
    replicasChecked: state.replicasChecked,
    changedDuringScan: state.changed,
    volumes: views.length,
    unreachableVolumes: [...unreachable].sort(),
  };
}

/** Walks all cursors in key order, handing each key's metadata and entries to the pool. */
async function mergeKeys(
  state: ScanState,
  metadata: MetadataCursor,
  cursors: readonly EntryCursor[],
  pool: TaskPool,
): Promise<void> {
  for (;;) {
    state.options.signal.throwIfAborted();
    const key = await smallestKey(metadata, cursors);
    if (key === undefined) return;
    const blob = await metadata.takeIf(key);
    const entries: ListedEntry[] = [];
    for (const cursor of cursors) {
      for (const info of await cursor.takeAll(key)) entries.push({ volumeId: cursor.volumeId, info });
    }
    if (blob !== null) state.keys += 1;
    await pool.submit(() => checkKey(state, key, blob, entries));
  }
}

async function smallestKey(
  metadata: MetadataCursor,
  cursors: readonly EntryCursor[],
): Promise<string | undefined> {
  let smallest = (await metadata.peek())?.key;
  for (const cursor of cursors) {
    const key = (await cursor.peek())?.key;
    if (key !== undefined && (smallest === undefined || compareKeys(key, smallest) < 0)) smallest = key;
  }
  return smallest;
}

async function checkKey(
  state: ScanState,
  key: string,
  blob: BlobMeta | null,
  entries: readonly ListedEntry[],
): Promise<void> {
  if (blob !== null) {
    await checkBlob(state, blob, entries);
    state.options.progress(state.keys, state.totalEstimate);
  }
  for (const entry of entries) {
    if (!isOrphanCandidate(state, blob, entry)) continue;
    const orphan = await confirmOrphan(state, key, entry);
    if (orphan !== null) await state.handlers.orphan(orphan);
  }
}

async function checkBlob(state: ScanState, blob: BlobMeta, entries: readonly ListedEntry[]): Promise<void> {
  const replicas: ReplicaCheck[] = [];
  for (const volumeId of blob.replicas) {
    const listed = entries.find((e) => e.volumeId === volumeId && !e.info.prepared)?.info;
    const check = await checkReplica(state, blob, volumeId, listed);
    if (check === CHANGED) {
      state.changed += 1;
      return;
    }
    state.replicasChecked += 1;
    replicas.push(check);
  }
  await state.handlers.blob({ blob, replicas });
}

/** A replica's state: from the listing when it agrees, else confirmed by a fresh look. */
async function checkReplica(
  state: ScanState,
  blob: BlobMeta,
  volumeId: string,
  listed: VolumeKeyInfo | undefined,
): Promise<ReplicaCheck | typeof CHANGED> {
  if (state.unreachable.has(volumeId)) {
    return problem(volumeId, "unavailable", "the volume is down or failed to list its keys");
  }
  if (listed?.version === blob.version) {
    if (!state.options.deep) return ok(volumeId);
    const summed = await checksumReplica(state, blob, volumeId);
    if (summed.state !== "missing" && summed.state !== "stale") return summed;
  }
  const confirmed = await confirmReplica(state, blob, volumeId);
  if (confirmed === CHANGED || confirmed.state !== "ok" || !state.options.deep) return confirmed;
  return checksumReplica(state, blob, volumeId);
}

/** After the recheck delay: is the blob unchanged, and does the volume serve its version? */
async function confirmReplica(
  state: ScanState,
  blob: BlobMeta,
  volumeId: string,
): Promise<ReplicaCheck | typeof CHANGED> {
  if (!(await unchanged(state, blob))) return CHANGED;
  try {
    const stat = await state.access.volumeClient(volumeId).stat(blob.key, { signal: state.options.signal });
    if (stat.version === blob.version) return ok(volumeId);
    return problem(volumeId, "stale", `holds version ${stat.version}, not ${blob.version}`);
  } catch (err) {
    if (isMinikvError(err, ErrorCode.KEY_NOT_FOUND)) return problem(volumeId, "missing", "no copy");
    return unreachableProblem(state, volumeId, err);
  }
}

/** Has the volume hash the copy where it lies and compares with the metadata. */
async function checksumReplica(state: ScanState, blob: BlobMeta, volumeId: string): Promise<ReplicaCheck> {
  try {
    const sum = await state.access
      .volumeClient(volumeId)
      .checksum(blob.key, { signal: state.options.signal });
    if (sum.version !== blob.version)
      return problem(volumeId, "stale", `holds version ${sum.version}, not ${blob.version}`);
    if (sum.crc32c !== sum.recordedCrc32c || sum.crc32c !== blob.crc32c >>> 0 || sum.size !== blob.size) {
      return problem(
        volumeId,
        "corrupt",
        `crc32c ${hex(sum.crc32c)} size ${sum.size}; metadata says crc32c ${hex(blob.crc32c)} size ${blob.size}`,
      );
    }
    return ok(volumeId);
  } catch (err) {
    if (isMinikvError(err, ErrorCode.DATA_CORRUPT)) return problem(volumeId, "corrupt", err.message);
    if (isMinikvError(err, ErrorCode.KEY_NOT_FOUND)) return problem(volumeId, "missing", "no copy");
    return unreachableProblem(state, volumeId, err);
  }
}

/** True when the blob is still at the same version with the same replicas (after the recheck delay). */
async function unchanged(state: ScanState, blob: BlobMeta): Promise<boolean> {
  await settle(state);
  const fresh = await state.access.getBlob(blob.key);
  return (
    fresh !== null &&
    fresh.version === blob.version &&
    fresh.replicas.length === blob.replicas.length &&
    fresh.replicas.every((id, i) => id === blob.replicas[i])
  );
}

/** From the listing alone: could this entry be an orphan? (Confirmed later.) */
function isOrphanCandidate(state: ScanState, blob: BlobMeta | null, entry: ListedEntry): boolean {
  const { info, volumeId } = entry;
  if (info.prepared) {
    return (
      blob?.txid !== info.txid &&
      state.options.now() - info.createdAtMs >= state.options.config.preparedInFlightMs
    );
  }
  return blob === null || !blob.replicas.includes(volumeId);
}

/** Re-reads metadata and the volume; null when the entry is no orphan (any more). */
async function confirmOrphan(state: ScanState, key: string, entry: ListedEntry): Promise<OrphanEntry | null> {
  await settle(state);
  const fresh = await state.access.getBlob(key);
  const { info, volumeId } = entry;
  const base = {
    volumeId,
    key,
    version: info.version,
    prepared: info.prepared,
    txid: info.txid,
    createdAtMs: info.createdAtMs,
  };
  if (info.prepared) return fresh?.txid === info.txid ? null : { ...base, reason: "prepared" };
  if (fresh !== null && fresh.replicas.includes(volumeId)) return null;
  if (!(await stillServes(state, volumeId, key, info.version))) return null;
  if (fresh === null) return { ...base, reason: "no-metadata" };
  return { ...base, reason: info.version < fresh.version ? "older-version" : "not-a-replica" };
}

async function stillServes(
  state: ScanState,
  volumeId: string,
  key: string,
  version: number,
): Promise<boolean> {
  try {
    const stat = await state.access.volumeClient(volumeId).stat(key, { signal: state.options.signal });
    return stat.version === version;
  } catch {
    // Gone, or the volume stopped answering: nothing to report as an orphan now.
    state.options.signal.throwIfAborted();
    return false;
  }
}

/** Waits until the recheck delay has passed since the volumes were listed (once per scan in effect). */
async function settle(state: ScanState): Promise<void> {
  const waitMs = state.listedAtMs + state.options.config.recheckDelayMs - state.options.now();
  if (waitMs > 0) await sleep(waitMs, undefined, { signal: state.options.signal });
}

function unreachableProblem(state: ScanState, volumeId: string, err: unknown): ReplicaCheck {
  state.options.signal.throwIfAborted();
  const code = isMinikvError(err) ? err.code : ErrorCode.INTERNAL;
  const message = err instanceof Error ? err.message : String(err);
  return problem(volumeId, "unavailable", `${code}: ${message}`);
}

/** Keys the reachable volumes hold, divided by the replica count: the progress total. */
export async function blobCountEstimate(
  access: ClusterAccess,
  volumeIds: readonly string[],
): Promise<number> {
  const counts = await Promise.all(
    volumeIds.map((id) =>
      access
        .volumeClient(id)
        .health()
        .then((health) => health.keys)
        .catch(() => 0),
    ),
  );
  return Math.ceil(counts.reduce((sum, n) => sum + n, 0) / Math.max(1, access.replicas));
}

function ok(volumeId: string): ReplicaCheck {
  return { volumeId, state: "ok", detail: null };
}

function problem(volumeId: string, state: ReplicaState, detail: string): ReplicaCheck {
  return { volumeId, state, detail };
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}
