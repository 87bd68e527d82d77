/**
 * The coordinator's view of its replicated metadata: commands go through Raft (a follower's
 * driver forwards them to the leader and answers once applied here); reads take a ReadIndex
 * barrier first (§6.4: they reflect every write acknowledged before they began) unless the
 * caller opts into a stale read.
 */
import { LRUCache } from "lru-cache";
import { ErrorCode, MinikvError, isMinikvError, toMinikvError } from "../common/errors.js";
import type { CoordResult } from "./coord-commands.js";
import {
  PREFIX,
  abortedTxKey,
  blobKey,
  decodeJson,
  encodeMetadataCommand,
  type BlobMeta,
  type MetadataCommand,
  type MetadataResult,
  type VolumeRecord,
} from "./metadata-commands.js";
import type { LevelStateMachine } from "./raft/level-state-machine.js";
import type { RaftDriver } from "./raft/raft-driver.js";

/** Linearizable reads' ReadIndex rounds start at least this far apart (see barrier()). */
export const READ_ROUND_SPACING_MS = 1;
/**
 * Memory for the blobs' metadata a coordinator keeps (see localBlob), counted as BLOB_MEMO_ENTRY_BYTES
 * per entry plus its key, twice for a blob that exists (the metadata holds it again): about
 * 58,000 entries of short keys, fewer of long ones. More than the read cache's 128 MiB holds
 * 4 KiB values (about 30,000), so a read served from it needs no LevelDB lookup either: at
 * 8 MiB (some 14,600 entries) reads cycling over 20,000 keys missed every time, and the
 * leader spent about a tenth of its CPU per GET in LevelDB, JSON and the LRU's evictions.
 */
export const BLOB_MEMO_BYTES = 32 * 1024 * 1024;
/** Charged per memo entry on top of its key: the objects, strings and the LRU's slots. */
const BLOB_MEMO_ENTRY_BYTES = 512;

const noop = (): void => undefined;

function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

/**
 * Raft's TIMEOUT means no majority confirmed in time: the API answers that as NO_QUORUM
 * (503, retry) — DESIGN.md §2: a read that cannot be confirmed fails with 503.
 */
function unconfirmed(err: unknown): MinikvError {
  if (!isMinikvError(err, ErrorCode.TIMEOUT)) return toMinikvError(err);
  return new MinikvError(ErrorCode.NO_QUORUM, `not confirmed by a majority of coordinators in time`, {
    cause: err,
  });
}

export type Consistency = "linearizable" | "stale";

/**
 * A blob's metadata as applied here: decoded (`null`: the key has none), or the JSON an apply
 * wrote, until a read decodes it.
 */
type KnownBlob = { readonly blob: BlobMeta | null } | { readonly json: string };

/** A committed metadata command and the Raft index it was applied at. */
export interface Committed<R extends MetadataResult> {
  readonly index: number;
  readonly result: R;
}

export class MetadataStore {
  /** The last registry read; dropped when a volume record is applied or a restore runs. */
  private registry: Promise<readonly VolumeRecord[]> | null = null;

  /** Blobs' metadata as applied here, by key: the last ones written or read (localBlob). */
  private readonly blobs = new LRUCache<string, KnownBlob>({
    maxSize: BLOB_MEMO_BYTES,
    // UTF-16 strings: two bytes a character.
    sizeCalculation: (entry, key) =>
      BLOB_MEMO_ENTRY_BYTES + key.length * ("blob" in entry && entry.blob === null ? 2 : 4),
  });

  /** The ReadIndex round running now, and the one callers arriving meanwhile will share. */
  private roundInFlight: Promise<void> | null = null;
  private nextRound: Promise<void> | null = null;
  /** When the last ReadIndex round started (performance.now()). */
  private lastRoundAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly driver: RaftDriver<CoordResult>,
    private readonly state: LevelStateMachine<CoordResult>,
    private readonly readRoundSpacingMs = READ_ROUND_SPACING_MS,
  ) {
    // Every applied change of a blob lands in the memo as it is applied (see localBlob).
    state.watch(PREFIX.blob, {
      written: (key, value) => {
        this.blobs.set(utf8(key.subarray(1)), value === undefined ? { blob: null } : { json: utf8(value) });
      },
      reset: () => this.blobs.clear(),
    });
    const forgetRegistry = (): void => {
      this.registry = null;
    };
    state.watch(PREFIX.volume, { written: forgetRegistry, reset: forgetRegistry });
  }

  /**
   * Commits one command through Raft. Resolves once a majority has it and it is applied here;
   * rejects with the command's refusal (CONFLICT, KEY_NOT_FOUND...) or a Raft error
   * (NOT_LEADER, NO_QUORUM, TIMEOUT).
   */
  async commit<Op extends MetadataCommand["op"]>(
    command: Extract<MetadataCommand, { op: Op }>,
  ): Promise<Committed<Extract<MetadataResult, { op: Op }>>> {
    const { index, result } = await this.driver
      .propose(encodeMetadataCommand(command))
      .catch((err: unknown) => Promise.reject(unconfirmed(err)));
    if (result === undefined || !("op" in result) || result.op !== command.op) {
      throw new MinikvError(ErrorCode.INTERNAL, `metadata command ${command.op} gave no result`);
    }
    return { index, result: result as Extract<MetadataResult, { op: Op }> };
  }

  /**
   * Waits until this node's state reflects every write acknowledged before the call.
   *
   * Concurrent barriers share ReadIndex rounds, at most one in flight: a caller that finds a
   * round running cannot use it (it may have been confirmed before the caller's call began),
   * so it waits for it to end and joins the one round issued next, together with everyone
   * else who arrived meanwhile. Under load a round then serves many reads instead of one
   * heartbeat exchange with every coordinator per read. Rounds also start at least
   * READ_ROUND_SPACING_MS apart: a round takes well under a millisecond on a quiet loopback, so
   * back-to-back rounds would still cost each follower a heartbeat exchange per one or two
   * reads; the spacing makes each round gather a millisecond's reads. A read arriving after a
   * quiet spell starts its round at once, and so does every round of a leader that answers
   * from its lease (no heartbeat to save).
   */
  async barrier(consistency: Consistency = "linearizable"): Promise<void> {
    if (consistency !== "linearizable") return;
    if (this.nextRound !== null) return this.nextRound;
    const previous = this.roundInFlight;
    if (previous === null && this.spacingLeftMs() <= 0) return this.startRound();
    const settled = previous === null ? Promise.resolve() : previous.then(noop, noop);
    this.nextRound = settled.then(() => this.spaced()).then(() => this.startRound());
    return this.nextRound;
  }

  /**
   * How long until the next round may start (≤ 0: now). A leader answering from its lease
   * needs no spacing: its round sends nothing, and reads still share the one in flight.
   */
  private spacingLeftMs(): number {
    if (this.driver.readsAreLocal()) return 0;
    return this.lastRoundAt + this.readRoundSpacingMs - performance.now();
  }

  /** Resolves once the spacing has passed since the last round started. */
  private spaced(): Promise<void> | undefined {
    const wait = this.spacingLeftMs();
    if (wait <= 0) return undefined;
    return new Promise((resolve) => setTimeout(resolve, wait));
  }

  private startRound(): Promise<void> {
    this.nextRound = null;
    this.lastRoundAt = performance.now();
    const round = this.driver.readIndex().then(
      () => undefined,
      (err: unknown) => Promise.reject(unconfirmed(err)),
    );
    this.roundInFlight = round;
    const done = (): void => {
      if (this.roundInFlight === round) this.roundInFlight = null;
    };
    round.then(done, done);
    return round;
  }

  async getBlob(key: string, consistency: Consistency = "linearizable"): Promise<BlobMeta | null> {
    await this.barrier(consistency);
    return this.localBlob(key);
  }

  /**
   * The blob as applied on this node, without a barrier, from memory when it can be: the memo
   * holds what each applied write of a blob wrote (LevelStateMachine.watch, told before the
   * apply resolves, and emptied by a restore) and what reads found in LevelDB since, so an
   * entry is always the key's applied state. A read of a key written or read lately thus needs
   * no LevelDB lookup; at thousands of GETs a second a lookup and its JSON decode were about
   * 7% of a coordinator's CPU, and a read right after its write (the blobs a benchmark's GET
   * phase reads, once each) cost the leader a median 17.5 µs more than a second read of it
   * when only reads filled the memo, 9.5 µs since (docs/BENCHMARKS.md).
   * The lookup and the memo's update run without a pause, so no apply can come between them.
   * The objects are shared: callers must not change them.
   */
  localBlob(key: string): Promise<BlobMeta | null> {
    try {
      return Promise.resolve(this.appliedBlob(key));
    } catch (err) {
      return Promise.reject(toMinikvError(err));
    }
  }

  private appliedBlob(key: string): BlobMeta | null {
    const known = this.blobs.get(key);
    if (known !== undefined && "blob" in known) return known.blob;
    const blob =
      known === undefined
        ? decodeJson<BlobMeta>(this.state.getNow(blobKey(key)))
        : (JSON.parse(known.json) as BlobMeta);
    this.blobs.set(key, { blob });
    return blob;
  }

  /**
   * Up to `limit` blobs whose keys start with `prefix`, in UTF-8 byte order, strictly after
   * `startAfter` when given.
   */
  async listBlobs(
    options: { prefix?: string; startAfter?: string | null; limit: number },
    consistency: Consistency = "linearizable",
  ): Promise<BlobMeta[]> {
    await this.barrier(consistency);
    const prefix = blobKey(options.prefix ?? "");
    // UTF-8 never holds 0xFF, so prefix + 0xFF is above every key with the prefix.
    const lt = Buffer.concat([prefix, Buffer.from([0xff])]);
    const after = options.startAfter == null ? undefined : blobKey(options.startAfter);
    const bound = after !== undefined && Buffer.compare(after, prefix) >= 0 ? { gt: after } : { gte: prefix };
    const rows = await this.state.range({ ...bound, lt, limit: options.limit });
    return rows.flatMap(([, value]) => {
      const blob = decodeJson<BlobMeta>(value);
      return blob === null ? [] : [blob];
    });
  }

  /**
   * The volume registry as applied on this node (registration is rare; no barrier needed).
   * Every write and read consults it, so it is read from LevelDB only when it may have
   * changed: callers share one read until a command writes a volume record or a snapshot is
   * restored (LevelStateMachine.watch drops it then). The records are shared: callers must
   * not change them.
   */
  async volumes(): Promise<VolumeRecord[]> {
    let records = this.registry;
    if (records === null) {
      const read = this.readVolumes();
      records = read;
      this.registry = read;
      // A failed read is not kept: the next caller reads again.
      read.catch(() => {
        if (this.registry === read) this.registry = null;
      });
    }
    return [...(await records)];
  }

  private async readVolumes(): Promise<readonly VolumeRecord[]> {
    const rows = await this.state.range({
      gte: Uint8Array.of(PREFIX.volume),
      lt: Uint8Array.of(PREFIX.volume + 1),
    });
    return rows.flatMap(([, value]) => {
      const volume = decodeJson<VolumeRecord>(value);
      return volume === null ? [] : [volume];
    });
  }

  async isAborted(txid: string): Promise<boolean> {
    return (await this.state.get(abortedTxKey(txid))) !== undefined;
  }
}
