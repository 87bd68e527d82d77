/**
 * Commands of the plain key-value state machine: put, delete, and an atomic batch of both.
 *
 * Encoding (big-endian): u8 tag (1 put, 2 delete, 3 batch), then
 *   put:    u32 keyLength, key, u32 valueLength, value
 *   delete: u32 keyLength, key
 *   batch:  u32 count, then `count` put/delete commands, each with its tag.
 */
import { ErrorCode, MinikvError, asError } from "../../common/errors.js";
import type { ApplyTx, CommandHandler } from "./command-handler.js";

export type KvOp =
  | { readonly type: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: "delete"; readonly key: Uint8Array };

export type KvCommand = KvOp | { readonly type: "batch"; readonly ops: readonly KvOp[] };

/** For each op of the command, whether its key held a value before. */
export interface KvResult {
  readonly existed: readonly boolean[];
}

/** Point reads of a key-value-backed state machine (state as of its applied index). */
export interface KvReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
}

const TAG = { put: 1, delete: 2, batch: 3 } as const;

function opBytes(op: KvOp): number {
  if (op.key.byteLength === 0) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "empty key");
  return 5 + op.key.byteLength + (op.type === "put" ? 4 + op.value.byteLength : 0);
}

/** Writes `op` at `at`; returns where the next one starts. */
function writeOp(out: Buffer, op: KvOp, at: number): number {
  let next = out.writeUInt8(TAG[op.type], at);
  next = out.writeUInt32BE(op.key.byteLength, next);
  out.set(op.key, next);
  next += op.key.byteLength;
  if (op.type === "delete") return next;
  next = out.writeUInt32BE(op.value.byteLength, next);
  out.set(op.value, next);
  return next + op.value.byteLength;
}

/** One buffer, written in place (a put is proposed per request on the leader's hot path). */
export function encodeKvCommand(command: KvCommand): Uint8Array {
  if (command.type !== "batch") {
    const out = Buffer.allocUnsafe(opBytes(command));
    writeOp(out, command, 0);
    return out;
  }
  let bytes = 5;
  for (const op of command.ops) bytes += opBytes(op);
  const out = Buffer.allocUnsafe(bytes);
  let at = out.writeUInt32BE(command.ops.length, out.writeUInt8(TAG.batch, 0));
  for (const op of command.ops) at = writeOp(out, op, at);
  return out;
}

class Reader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}

  u8(): number {
    this.need(1);
    return this.bytes.readUInt8(this.at++);
  }

  u32(): number {
    this.need(4);
    const n = this.bytes.readUInt32BE(this.at);
    this.at += 4;
    return n;
  }

  /** A view of the command's bytes. */
  slice(length: number): Uint8Array {
    this.need(length);
    const out = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  done(): boolean {
    return this.at === this.bytes.length;
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.length)
      throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "truncated command");
  }
}

function decodeOp(reader: Reader, tag: number): KvOp {
  const keyLength = reader.u32();
  if (keyLength === 0) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "empty key");
  const key = reader.slice(keyLength);
  if (tag === TAG.delete) return { type: "delete", key };
  if (tag === TAG.put) return { type: "put", key, value: reader.slice(reader.u32()) };
  throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `unknown command tag ${tag}`);
}

/**
 * Decodes a command; INVALID_ARGUMENT on anything malformed (never a crash). Keys and
 * values are views of `data` (an ApplyTx copies what it keeps).
 */
export function decodeKvCommand(data: Uint8Array): KvCommand {
  const reader = new Reader(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const tag = reader.u8();
  let command: KvCommand;
  if (tag === TAG.batch) {
    const count = reader.u32();
    const ops: KvOp[] = [];
    // Each op takes at least 6 bytes, which bounds the loop by the command's own size.
    if (count * 6 > data.byteLength) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "truncated command");
    for (let i = 0; i < count; i++) ops.push(decodeOp(reader, reader.u8()));
    command = { type: "batch", ops };
  } else {
    command = decodeOp(reader, tag);
  }
  if (!reader.done()) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "trailing bytes after command");
  return command;
}

/** Executes one key-value command; synchronous, as every state machine reads its state. */
function applyKvCommand(data: Uint8Array, tx: ApplyTx): KvResult {
  const command = decodeKvCommand(data);
  if (command.type !== "batch") return { existed: [applyOp(command, tx)] };
  const existed: boolean[] = [];
  for (const op of command.ops) existed.push(applyOp(op, tx));
  return { existed };
}

/** Stages `op`; whether its key held a value before. */
function applyOp(op: KvOp, tx: ApplyTx): boolean {
  const existed = tx.getNow(op.key) !== undefined;
  if (op.type === "put") tx.put(op.key, op.value);
  else tx.del(op.key);
  return existed;
}

/**
 * Executes key-value commands against a state machine's keyspace. Not an async function:
 * the work is synchronous, and the apply loop of every replica runs it for every entry.
 */
export const kvCommandHandler: CommandHandler<KvResult> = {
  apply(data: Uint8Array, tx: ApplyTx): Promise<KvResult> {
    try {
      return Promise.resolve(applyKvCommand(data, tx));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  },
};
