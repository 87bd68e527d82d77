/**
 * The part of a key-value-backed state machine that knows its commands. The storage (LevelDB
 * or memory), the applied index, atomic batches, snapshots and restore are generic; a
 * handler decodes one command and stages its writes. The plain key-value commands
 * (kv-commands.ts) are one handler; the coordinator's metadata is another.
 */

/** The writes of one applied batch, staged; reads see earlier staged writes of the batch. */
export interface ApplyTx {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** get(), answered at once: every state machine reads its applied state synchronously. */
  getNow(key: Uint8Array): Uint8Array | undefined;
  /** Stages a copy of `value`: the caller may pass a view of bytes it does not own. */
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
}

/**
 * Decodes and executes one command. Throwing a MinikvError refuses the command: its staged
 * writes are discarded and the error becomes its result; the rest of the batch proceeds.
 * Must be deterministic (no clock, no randomness): every replica runs it alike.
 */
export interface CommandHandler<Result> {
  apply(command: Uint8Array, tx: ApplyTx, index: number): Promise<Result>;
}

/** Keys in a state machine's keyspace are compared as bytes; this is the map key. */
export function keyString(key: Uint8Array): string {
  return key instanceof Buffer
    ? key.toString("latin1")
    : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

export function keyBytes(key: string): Uint8Array {
  return Buffer.from(key, "latin1");
}

/** One staged write: the key's bytes (owned by the batch) and its new value, or undefined for a delete. */
export interface StagedWrite {
  readonly key: Uint8Array;
  readonly value: Uint8Array | undefined;
}

/**
 * The staging area of one batch. A command's writes go straight into the batch; what each
 * one replaced is remembered until the command ends, so a refused command is rolled back.
 * Under load every applied entry passes through here on every replica: one map entry and
 * one copy of the key and of the value per write, nothing per command.
 */
export class StagedWrites implements ApplyTx {
  /** The batch's writes by key string (the last write of a key wins). */
  readonly batch = new Map<string, StagedWrite>();
  /**
   * The current command's writes, in order: the key string and what the batch held before;
   * the first `undoCount` slots are live (the arrays are reused, never shrunk: setting an
   * array's length is a slow call into the runtime).
   */
  private readonly undoKeys: string[] = [];
  private readonly undoWrites: (StagedWrite | undefined)[] = [];
  private undoCount = 0;

  /** `read` answers from the applied state (before this batch). */
  constructor(private readonly read: (key: Uint8Array) => Uint8Array | undefined) {}

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.getNow(key));
  }

  getNow(key: Uint8Array): Uint8Array | undefined {
    const staged = this.batch.get(keyString(key));
    return staged === undefined ? this.read(key) : staged.value;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.stage(key, Buffer.from(value));
  }

  del(key: Uint8Array): void {
    this.stage(key, undefined);
  }

  commitCommand(): void {
    this.undoCount = 0;
  }

  discardCommand(): void {
    for (let i = this.undoCount - 1; i >= 0; i--) {
      const k = this.undoKeys[i] as string;
      const before = this.undoWrites[i];
      if (before === undefined) this.batch.delete(k);
      else this.batch.set(k, before);
    }
    this.commitCommand();
  }

  private stage(key: Uint8Array, value: Uint8Array | undefined): void {
    const k = keyString(key);
    this.undoKeys[this.undoCount] = k;
    this.undoWrites[this.undoCount] = this.batch.get(k);
    this.undoCount += 1;
    this.batch.set(k, { key: Buffer.from(key), value });
  }
}
