/**
 * The in-memory twin of LevelStateMachine: the same command handlers, applied index and
 * snapshot format, over a sorted in-memory map. A MemoryStateDisk outlives the state
 * machine so tests can restart a node over the same applied state.
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import type { CommandHandler } from "./command-handler.js";
import { StagedWrites, keyBytes, keyString } from "./command-handler.js";
import type { Entry } from "./core/types.js";
import type { KvReader } from "./kv-commands.js";
import type { KvRecord } from "./kv-snapshot-format.js";
import { decodeKvRecords, encodeKvRecords } from "./kv-snapshot-format.js";
import { applyEntries } from "./apply-entries.js";
import type { ApplyResult, StateMachine, StateMachineSnapshot } from "./state-machine.js";

/** What survives a restart: the data and the applied index, always together. */
export class MemoryStateDisk {
  data = new Map<string, Uint8Array>();
  applied = 0;
}

export class MemoryStateMachine<Result> implements StateMachine<Result>, KvReader {
  constructor(
    private readonly handler: CommandHandler<Result>,
    private readonly disk: MemoryStateDisk = new MemoryStateDisk(),
  ) {}

  appliedIndex(): number {
    return this.disk.applied;
  }

  /** The value at `key`, or undefined. */
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.getNow(key));
  }

  private getNow(key: Uint8Array): Uint8Array | undefined {
    const value = this.disk.data.get(keyString(key));
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  /** Number of keys held. */
  size(): number {
    return this.disk.data.size;
  }

  async apply(entries: readonly Entry[]): Promise<readonly ApplyResult<Result>[]> {
    const staged = new StagedWrites((key) => this.getNow(key));
    const results = await applyEntries(this.disk.applied, entries, this.handler, staged);
    // Commit point: data and applied index change together.
    for (const [k, { value }] of staged.batch) {
      if (value === undefined) this.disk.data.delete(k);
      else this.disk.data.set(k, value);
    }
    this.disk.applied = entries.at(-1)?.index ?? this.disk.applied;
    return results;
  }

  snapshot(): Promise<StateMachineSnapshot> {
    const records: KvRecord[] = [...this.disk.data.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [keyBytes(k), v] as const);
    async function* source(): AsyncIterable<KvRecord> {
      for (const record of records) yield record;
      await Promise.resolve();
    }
    return Promise.resolve({
      index: this.disk.applied,
      chunks: () => encodeKvRecords(source()),
      close: () => Promise.resolve(),
    });
  }

  async restore(index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `invalid restore index ${index}`);
    }
    // Like the LevelDB one: the applied index drops first, so a failed restore is retried.
    this.disk.applied = 0;
    this.disk.data = new Map();
    const data = new Map<string, Uint8Array>();
    for await (const [key, value] of decodeKvRecords(chunks)) data.set(keyString(key), value);
    this.disk.data = data;
    this.disk.applied = index;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
