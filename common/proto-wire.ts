/**
 * Protocol Buffers wire format, written by hand where protobufjs's generic encoder would
 * cost more than the message (the Raft batch codec, gRPC messages built inside their frames).
 * https://protobuf.dev/programming-guides/encoding/
 */

/** Wire types. */
export const VARINT = 0;
export const FIXED64 = 1;
export const LENGTH_DELIMITED = 2;
export const FIXED32 = 5;

/** Bytes of `value` (a non-negative safe integer) as a varint. */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 4;
  for (let v = Math.floor(value / 0x10000000); v > 0; v = Math.floor(v / 0x80)) size += 1;
  return size;
}

/**
 * Writes fields into `buf` from `at` on. The caller sizes `buf` exactly; tags are one byte,
 * so field numbers are below 16.
 */
export class ProtoWriter {
  at = 0;
  constructor(readonly buf: Buffer) {}

  varint(value: number): void {
    let v = value;
    for (; v > 0x7fffffff; v = Math.floor(v / 0x80)) this.buf[this.at++] = (v % 0x80) | 0x80;
    for (; v >= 0x80; v >>>= 7) this.buf[this.at++] = (v & 0x7f) | 0x80;
    this.buf[this.at++] = v;
  }

  tag(field: number, wireType: number): void {
    this.buf[this.at++] = (field << 3) | wireType;
  }

  varintField(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, VARINT);
    this.varint(value);
  }

  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(bytes.byteLength);
    this.buf.set(bytes, this.at);
    this.at += bytes.byteLength;
  }

  stringField(field: number, value: string): void {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(Buffer.byteLength(value));
    this.at += this.buf.write(value, this.at);
  }
}
