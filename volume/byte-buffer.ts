import { assert } from "../common/errors.js";

/** Thrown by ByteReader when the bytes do not hold what the format says; callers catch it. */
export class FormatError extends Error {
  override name = "FormatError";
}

/** Appends little-endian fields to a growing buffer (WAL payloads, snapshots, markers). */
export class ByteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.at;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  u8(value: number): this {
    this.room(1);
    this.at = this.buf.writeUInt8(value, this.at);
    return this;
  }

  u16(value: number): this {
    this.room(2);
    this.at = this.buf.writeUInt16LE(value, this.at);
    return this;
  }

  u32(value: number): this {
    this.room(4);
    this.at = this.buf.writeUInt32LE(value >>> 0, this.at);
    return this;
  }

  /** A non-negative safe integer as u64. */
  u64(value: number): this {
    // The message is built only on failure: this runs for every u64 of a snapshot.
    if (!Number.isSafeInteger(value) || value < 0) assert(false, `u64 field ${value}`);
    this.room(8);
    this.buf.writeUInt32LE(value % 0x1_0000_0000, this.at);
    this.buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), this.at + 4);
    this.at += 8;
    return this;
  }

  /** A UTF-8 string with a u16 byte length. */
  str16(value: string): this {
    const bytes = Buffer.byteLength(value, "utf8");
    assert(bytes <= 0xffff, "string longer than a u16 length");
    this.u16(bytes);
    this.room(bytes);
    this.at += this.buf.write(value, this.at, "utf8");
    return this;
  }

  bytes(value: Uint8Array): this {
    this.room(value.length);
    this.buf.set(value, this.at);
    this.at += value.length;
    return this;
  }

  /** The bytes written so far (a view: do not write more after taking it). */
  finish(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Reads little-endian fields; throws FormatError past the end or on an impossible value. */
export class ByteReader {
  at: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.at = start;
  }

  get remaining(): number {
    return this.end - this.at;
  }

  private need(bytes: number): number {
    if (this.at + bytes > this.end) throw new FormatError("truncated");
    const at = this.at;
    this.at += bytes;
    return at;
  }

  u8(): number {
    return this.buf.readUInt8(this.need(1));
  }

  u16(): number {
    return this.buf.readUInt16LE(this.need(2));
  }

  u32(): number {
    return this.buf.readUInt32LE(this.need(4));
  }

  u64(): number {
    const at = this.need(8);
    const high = this.buf.readUInt32LE(at + 4);
    if (high > 0x1f_ffff) throw new FormatError("u64 beyond a safe integer");
    return high * 0x1_0000_0000 + this.buf.readUInt32LE(at);
  }

  str16(): string {
    const bytes = this.u16();
    const at = this.need(bytes);
    return this.buf.toString("utf8", at, at + bytes);
  }

  bytes(length: number): Buffer {
    const at = this.need(length);
    return this.buf.subarray(at, at + length);
  }
}
