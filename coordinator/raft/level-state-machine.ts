/**
 * A state machine over LevelDB, generic in its commands (a CommandHandler decodes them).
 * Each apply() is ONE LevelDB batch holding the commands' writes and the new applied index,
 * so they become durable together (the applied index never runs ahead of the data or
 * behind it). Snapshots stream a consistent LevelDB snapshot of the data; restore wipes
 * and loads, dropping the applied index first so a crash midway is retried on start-up.
 *
 * Keyspace (buffer keys): "d" + key → value (handler data); "mapplied" → u64 applied index.
 */
import { Level } from "level";
import { ErrorCode, MinikvError, asError } from "../../common/errors.js";
import type { CommandHandler } from "./command-handler.js";
import { StagedWrites } from "./command-handler.js";
import { applyEntries } from "./apply-entries.js";
import type { BatchOp } from "./level-batch.js";
import { writeBatchOf } from "./level-batch.js";
import type { Entry } from "./core/types.js";
import type { KvReader } from "./kv-commands.js";
import type { KvRecord } from "./kv-snapshot-format.js";
import { decodeKvRecords, encodeKvRecordBatches } from "./kv-snapshot-format.js";
import type { ApplyResult, StateMachine, StateMachineSnapshot } from "./state-machine.js";

type Db = Level<Buffer, Buffer>;

const DATA_PREFIX = Buffer.from("d");
const DATA_END = Buffer.from("e");
const KEY_APPLIED = Buffer.from("mapplied");
/** Records per LevelDB batch while restoring, and per iterator read while snapshotting. */
const RESTORE_BATCH_RECORDS = 1024;

export interface LevelStateMachineOptions {
  /**
   * fsync every applied batch. With false, a machine crash (not a process crash) may lose
   * the last applied batches; the applied index then reads lower and the driver re-applies
   * them from the log, so no committed state is lost either way.
   */
  readonly syncApply: boolean;
}

export const levelStateMachineDefaults: LevelStateMachineOptions = { syncApply: true };

function dataKey(key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(DATA_PREFIX.length + key.byteLength);
  DATA_PREFIX.copy(out, 0);
  out.set(key, DATA_PREFIX.length);
  return out;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/**
 * Told of every applied write of keys beginning with one byte (see watch()): `written` after
 * each applied batch, once per key the batch wrote (`value` undefined for a delete); `reset`
 * as a restore begins and as it ends, when any such key may have changed. The key and value
 * are the batch's own: a watcher that keeps them must copy them.
 */
export interface KeyWatcher {
  written(key: Uint8Array, value: Uint8Array | undefined): void;
  reset(): void;
}

/** Range bounds over the handler's keys (without the internal prefix). */
export interface KeyRange {
  readonly gt?: Uint8Array;
  readonly gte?: Uint8Array;
  readonly lt?: Uint8Array;
  readonly limit?: number;
}

export class LevelStateMachine<Result> implements StateMachine<Result>, KvReader {
  /** watch()ers by the first byte of the keys they watch. */
  private readonly watchers = new Map<number, KeyWatcher[]>();

  private constructor(
    private readonly db: Db,
    private readonly handler: CommandHandler<Result>,
    private readonly options: LevelStateMachineOptions,
    private applied: number,
  ) {}

  /** Opens (creating if needed) the state machine in directory `path`. */
  static async open<Result>(
    path: string,
    handler: CommandHandler<Result>,
    options: LevelStateMachineOptions = levelStateMachineDefaults,
  ): Promise<LevelStateMachine<Result>> {
    const db: Db = new Level<Buffer, Buffer>(path, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
    const value = await db.get(KEY_APPLIED);
    if (value !== undefined && value.length !== 8) {
      await db.close();
      throw new MinikvError(ErrorCode.DATA_CORRUPT, "state machine: applied index is malformed");
    }
    return new LevelStateMachine(
      db,
      handler,
      options,
      value === undefined ? 0 : Number(value.readBigUInt64BE()),
    );
  }

  appliedIndex(): number {
    return this.applied;
  }

  /**
   * Tells `watcher` of every applied write of keys beginning with `firstByte`, and of every
   * restore, from now on; the returned function stops that. A batch's writes are told after
   * it is durable and the applied index moved, before apply() resolves: whoever reads the
   * state at an index already finds them told.
   */
  watch(firstByte: number, watcher: KeyWatcher): () => void {
    const byte = firstByte & 0xff;
    this.watchers.set(byte, [...(this.watchers.get(byte) ?? []), watcher]);
    return () => {
      const rest = (this.watchers.get(byte) ?? []).filter((w) => w !== watcher);
      if (rest.length > 0) this.watchers.set(byte, rest);
      else this.watchers.delete(byte);
    };
  }

  /**
   * Read on the event loop (LevelDB's getSync): a lookup is a few microseconds from the
   * memtable or block cache, where the asynchronous get costs a thread-pool round trip (three
   * futex calls and two context switches) per read.
   */
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      return Promise.resolve(this.getNow(key));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /** get(), answered synchronously (throws what get() rejects with). */
  getNow(key: Uint8Array): Uint8Array | undefined {
    return this.db.getSync(dataKey(key));
  }

  /** Records in key order within the range (state as of the applied index). */
  async range(range: KeyRange): Promise<KvRecord[]> {
    const lower =
      range.gt !== undefined ? { gt: dataKey(range.gt) } : { gte: dataKey(range.gte ?? new Uint8Array()) };
    const lt = range.lt !== undefined ? dataKey(range.lt) : DATA_END;
    const rows = await this.db.iterator({ ...lower, lt, limit: range.limit ?? -1 }).all();
    return rows.map(([k, v]): KvRecord => [Uint8Array.from(k.subarray(DATA_PREFIX.length)), v]);
  }

  async apply(entries: readonly Entry[]): Promise<readonly ApplyResult<Result>[]> {
    const last = entries.at(-1);
    if (last === undefined) return [];
    // Synchronous reads: no thread-pool round trip per command on the apply path.
    const staged = new StagedWrites((key) => this.db.getSync(dataKey(key)));
    const results = await applyEntries(this.applied, entries, this.handler, staged);
    await writeBatchOf(this.db, this.options.syncApply, (batch) => {
      for (const { key, value } of staged.batch.values()) {
        // Values as views, not copies: they are the batch's own, and LevelDB copies them.
        if (value === undefined) batch.del(dataKey(key));
        else batch.put(dataKey(key), Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
      batch.put(KEY_APPLIED, u64(last.index));
    });
    this.applied = last.index;
    this.tellWatchers(staged);
    return results;
  }

  private tellWatchers(staged: StagedWrites): void {
    if (this.watchers.size === 0) return;
    for (const { key, value } of staged.batch.values()) {
      const watchers = key[0] === undefined ? undefined : this.watchers.get(key[0]);
      if (watchers !== undefined) for (const watcher of watchers) watcher.written(key, value);
    }
  }

  /** A restore begins or ends: any key may have changed. */
  private tellRestore(): void {
    for (const watchers of this.watchers.values()) for (const watcher of watchers) watcher.reset();
  }

  snapshot(): Promise<StateMachineSnapshot> {
    const snapshot = this.db.snapshot();
    const db = this.db;
    async function* records(): AsyncIterable<readonly KvRecord[]> {
      const iterator = db.iterator({ gte: DATA_PREFIX, lt: DATA_END, snapshot });
      try {
        for (let rows = await iterator.nextv(RESTORE_BATCH_RECORDS); rows.length > 0;) {
          // The iterator's own rows, keys trimmed in place: no new array per record.
          for (const row of rows) row[0] = row[0].subarray(DATA_PREFIX.length);
          yield rows;
          rows = await iterator.nextv(RESTORE_BATCH_RECORDS);
        }
      } finally {
        await iterator.close();
      }
    }
    return Promise.resolve({
      index: this.applied,
      chunks: () => encodeKvRecordBatches(records()),
      close: () => snapshot.close(),
    });
  }

  async restore(index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `invalid restore index ${index}`);
    }
    // The applied index goes first: until the last batch lands, start-up sees 0 and restores again.
    await this.db.batch([{ type: "del", key: KEY_APPLIED }], { sync: true });
    this.applied = 0;
    this.tellRestore();
    await this.db.clear({ gte: DATA_PREFIX, lt: DATA_END });
    let ops: BatchOp[] = [];
    for await (const [key, value] of decodeKvRecords(chunks)) {
      ops.push({ type: "put", key: dataKey(key), value: Buffer.from(value) });
      if (ops.length >= RESTORE_BATCH_RECORDS) {
        await this.db.batch(ops);
        ops = [];
      }
    }
    ops.push({ type: "put", key: KEY_APPLIED, value: u64(index) });
    await this.db.batch(ops, { sync: true });
    this.applied = index;
    this.tellRestore();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
