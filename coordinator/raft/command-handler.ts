/**
 * The part of a key-value-backed state machine that knows its commands. The storage (LevelDB
 * or memory), the applied index, atomic batches, snapshots and restore are generic; a
 * handler decodes one command and stages its writes. The plain key-value commands
 * (kv-commands.ts) are one handler; the coordinator's metadata is another.
 */

/** The writes of one applied batch, staged; reads see earlier staged writes of the batch. */
export interface ApplyTx {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
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
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

export function keyBytes(key: string): Uint8Array {
  return Buffer.from(key, "latin1");
}

/**
 * The staging area of one batch: per-command writes merge into the batch only when the
 * command succeeds. `undefined` marks a delete.
 */
export class StagedWrites implements ApplyTx {
  readonly batch = new Map<string, Uint8Array | undefined>();
  private readonly command = new Map<string, Uint8Array | undefined>();

  constructor(private readonly read: (key: Uint8Array) => Promise<Uint8Array | undefined>) {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const k = keyString(key);
    if (this.command.has(k)) return this.command.get(k);
    if (this.batch.has(k)) return this.batch.get(k);
    return this.read(key);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.command.set(keyString(key), Uint8Array.from(value));
  }

  del(key: Uint8Array): void {
    this.command.set(keyString(key), undefined);
  }

  commitCommand(): void {
    for (const [k, v] of this.command) this.batch.set(k, v);
    this.command.clear();
  }

  discardCommand(): void {
    this.command.clear();
  }
}
