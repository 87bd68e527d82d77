/**
 * The Raft log and hard state in LevelDB. Every save() is ONE LevelDB batch written with
 * `sync: true`, so a Ready's entries and hard state become durable together, before the
 * driver sends any message that depends on them (Figure 2).
 *
 * Keyspace (buffer keys):
 *   "e" + u64 index  → u32 crc32c, u8 version, u8 type, u64 term, data   (one log entry)
 *   "mbase"          → u32 crc32c, u64 index the log restarts after (firstIndex - 1)
 *   "mhard"          → u32 crc32c, JSON hard state
 *   "mpeers"         → u32 crc32c, JSON peer addresses
 * Every value's CRC is checked on read (pair assertion around the disk): DATA_CORRUPT.
 */
import { Level } from "level";
import { ErrorCode, MinikvError } from "../../common/errors.js";
import { crc32c } from "../../common/hashing.js";
import type { Entry, EntryType, HardState } from "./core/types.js";
import type { BatchWriter } from "./level-batch.js";
import { writeBatchOf } from "./level-batch.js";
import { EMPTY_HARD_STATE } from "./storage.js";
import type { PeerAddresses, RaftStorage, StorageUpdate } from "./storage.js";
import type { LogBounds } from "./storage-update.js";
import { checkRange, planUpdate } from "./storage-update.js";

type Db = Level<Buffer, Buffer>;

const ENTRY_PREFIX = 0x65; // "e"
const KEY_BASE = Buffer.from("mbase");
const KEY_HARD = Buffer.from("mhard");
const KEY_PEERS = Buffer.from("mpeers");
const ENTRY_VERSION = 1;
const TYPE_CODES: Readonly<Record<EntryType, number>> = { normal: 0, confChange: 1 };

/** Big-endian u64 of a safe integer, without a BigInt per call (hot: one per entry). */
function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / 2 ** 32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = ENTRY_PREFIX;
  writeU64(key, index, 1);
  return key;
}

function corrupt(message: string): MinikvError {
  return new MinikvError(ErrorCode.DATA_CORRUPT, `raft log: ${message}`);
}

function seal(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(crc32c(body));
  body.copy(out, 4);
  return out;
}

function unseal(value: Buffer, what: string): Buffer {
  if (value.length < 4) throw corrupt(`${what} is truncated`);
  const body = value.subarray(4);
  if (crc32c(body) !== value.readUInt32BE(0)) throw corrupt(`${what} fails its CRC`);
  return body;
}

export function encodeEntryValue(entry: Entry): Buffer {
  // seal(body) laid out in place: one buffer and one copy of the data per entry.
  const out = Buffer.allocUnsafe(4 + 10 + entry.data.byteLength);
  out[4] = ENTRY_VERSION;
  out[5] = TYPE_CODES[entry.type];
  writeU64(out, entry.term, 6);
  out.set(entry.data, 14);
  out.writeUInt32BE(crc32c(out.subarray(4)), 0);
  return out;
}

export function decodeEntryValue(index: number, value: Buffer): Entry {
  const body = unseal(value, `entry ${index}`);
  if (body.length < 10 || body[0] !== ENTRY_VERSION) throw corrupt(`entry ${index} has an unknown format`);
  const type: EntryType | undefined = body[1] === 0 ? "normal" : body[1] === 1 ? "confChange" : undefined;
  if (type === undefined) throw corrupt(`entry ${index} has an unknown type`);
  return { index, term: Number(body.readBigUInt64BE(2)), type, data: Uint8Array.from(body.subarray(10)) };
}

function encodeJson(value: unknown): Buffer {
  return seal(Buffer.from(JSON.stringify(value), "utf8"));
}

async function readJson(db: Db, key: Buffer): Promise<unknown> {
  const value = await db.get(key);
  if (value === undefined) return undefined;
  try {
    return JSON.parse(unseal(value, key.toString()).toString("utf8")) as unknown;
  } catch (cause) {
    throw cause instanceof MinikvError ? cause : corrupt(`${key.toString()} is not JSON`);
  }
}

function parseHardState(value: unknown): HardState {
  if (value === undefined) return EMPTY_HARD_STATE;
  const { term, vote, commit } = value as Record<string, unknown>;
  if (
    typeof term !== "number" ||
    typeof commit !== "number" ||
    !(vote === null || typeof vote === "string")
  ) {
    throw corrupt("hard state is malformed");
  }
  return { term, vote, commit };
}

function parsePeers(value: unknown): PeerAddresses {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null) throw corrupt("peer addresses are malformed");
  for (const address of Object.values(value))
    if (typeof address !== "string") throw corrupt("bad peer address");
  return value as PeerAddresses;
}

async function edgeIndex(db: Db, reverse: boolean): Promise<number | undefined> {
  const keys = await db
    .keys({ gt: entryKey(0), lte: entryKey(Number.MAX_SAFE_INTEGER), reverse, limit: 1 })
    .all();
  return keys[0]?.readBigUInt64BE(1) === undefined ? undefined : Number(keys[0].readBigUInt64BE(1));
}

/** Deletes every entry key in [lo, hi]. */
function deleteEntries(batch: BatchWriter, lo: number, hi: number): void {
  for (let i = lo; i <= hi; i++) batch.del(entryKey(i));
}

export class LevelRaftStore implements RaftStorage {
  private syncs = 0;
  /** The save in progress (settled when none is). */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private bounds: LogBounds,
    private hard: HardState,
    private peers: PeerAddresses,
  ) {}

  /** Opens (creating if needed) the store in directory `path`; DATA_CORRUPT if it is damaged. */
  static async open(path: string): Promise<LevelRaftStore> {
    const db: Db = new Level<Buffer, Buffer>(path, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
    try {
      const baseValue = await db.get(KEY_BASE);
      const base = baseValue === undefined ? 0 : Number(unseal(baseValue, "log base").readBigUInt64BE(0));
      const first = await edgeIndex(db, false);
      const last = (await edgeIndex(db, true)) ?? base;
      if (first !== undefined && first !== base + 1)
        throw corrupt(`log starts at ${first}, expected ${base + 1}`);
      const hard = parseHardState(await readJson(db, KEY_HARD));
      const peers = parsePeers(await readJson(db, KEY_PEERS));
      return new LevelRaftStore(db, { first: base + 1, last }, hard, peers);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  firstIndex(): number {
    return this.bounds.first;
  }

  lastIndex(): number {
    return this.bounds.last;
  }

  async entries(lo: number, hi: number): Promise<Entry[]> {
    checkRange(this.bounds, lo, hi);
    if (lo === hi) return [];
    const rows = await this.db.iterator({ gte: entryKey(lo), lt: entryKey(hi) }).all();
    const out = rows.map(([key, value], i) => {
      const index = Number(key.readBigUInt64BE(1));
      if (index !== lo + i) throw corrupt(`entry ${lo + i} is missing`);
      return decodeEntryValue(index, value);
    });
    if (out.length !== hi - lo) throw corrupt(`entries [${lo + out.length}, ${hi}) are missing`);
    return out;
  }

  append(entries: readonly Entry[]): Promise<void> {
    return this.save({ entries });
  }

  compact(index: number): Promise<void> {
    return this.save({ compactTo: index });
  }

  reset(index: number): Promise<void> {
    return this.save({ resetTo: index });
  }

  hardState(): HardState {
    return this.hard;
  }

  setHardState(hardState: HardState): Promise<void> {
    return this.save({ hardState });
  }

  peerAddresses(): PeerAddresses {
    return this.peers;
  }

  setPeerAddresses(peerAddresses: PeerAddresses): Promise<void> {
    return this.save({ peerAddresses });
  }

  save(update: StorageUpdate): Promise<void> {
    // One at a time: each update is planned against the bounds the previous one left.
    const run = this.writing.then(() => this.saveNow(update));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async saveNow(update: StorageUpdate): Promise<void> {
    const next = planUpdate(this.bounds, this.hard, update);
    const sync = update.sync !== false;
    await writeBatchOf(this.db, sync, (batch) => this.fill(batch, update, next));
    if (sync) this.syncs += 1;
    this.bounds = next;
    if (update.hardState !== undefined && update.hardState !== null) this.hard = { ...update.hardState };
    if (update.peerAddresses !== undefined && update.peerAddresses !== null) {
      this.peers = { ...update.peerAddresses };
    }
  }

  /**
   * Adds the LevelDB operations of one update to `batch`, in the order they take effect:
   * straight into the native batch, as a Ready's entries are the hot path of every node.
   */
  private fill(batch: BatchWriter, update: StorageUpdate, next: LogBounds): void {
    let { first, last } = this.bounds;
    if (update.resetTo !== undefined && update.resetTo !== null) {
      deleteEntries(batch, first, last);
      first = update.resetTo + 1;
      last = update.resetTo;
    }
    const entries = update.entries;
    const head = entries?.[0];
    if (head !== undefined && entries !== undefined) {
      const newLast = head.index + entries.length - 1;
      deleteEntries(batch, newLast + 1, last);
      for (const entry of entries) batch.put(entryKey(entry.index), encodeEntryValue(entry));
      last = newLast;
    }
    if (next.first > first) deleteEntries(batch, first, Math.min(last, next.first - 1));
    if (next.first !== this.bounds.first) {
      const base = Buffer.alloc(8);
      base.writeBigUInt64BE(BigInt(next.first - 1));
      batch.put(KEY_BASE, seal(base));
    }
    if (update.hardState !== undefined && update.hardState !== null) {
      batch.put(KEY_HARD, encodeJson(update.hardState));
    }
    if (update.peerAddresses !== undefined && update.peerAddresses !== null) {
      batch.put(KEY_PEERS, encodeJson(update.peerAddresses));
    }
  }

  syncCount(): number {
    return this.syncs;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
