import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MessageFiller, type FilledMessage } from "./message-filler.js";

function joined(message: FilledMessage): Buffer {
  return Buffer.concat(message.pieces);
}

describe("MessageFiller", () => {
  it("turns pieces of any sizes into messages of exactly the message size, bytes in order", () => {
    const messageBytes = 1000;
    const body = randomBytes(25_317);
    const filler = new MessageFiller(messageBytes);
    const messages: FilledMessage[] = [];
    // Pieces from 1 byte to more than two messages long, as a socket may deliver them.
    const sizes = [1, 999, 1000, 1001, 2_500, 7, 300, 4_000];
    for (let at = 0, i = 0; at < body.length; i++) {
      const size = Math.min(sizes[i % sizes.length] ?? 1, body.length - at);
      messages.push(...filler.add(body.subarray(at, at + size)));
      at += size;
    }
    const last = filler.finish();
    expect(last).not.toBeNull();
    if (last !== null) messages.push(last);
    expect(messages.slice(0, -1).every((m) => m.bytes === messageBytes)).toBe(true);
    expect(messages.at(-1)?.bytes).toBe(317);
    for (const m of messages) expect(joined(m).length).toBe(m.bytes);
    expect(Buffer.concat(messages.map(joined)).equals(body)).toBe(true);
    expect(filler.finish()).toBeNull();
  });

  it("splits a piece without copying it, and ends a body of whole messages with no partial one", () => {
    const piece = Buffer.alloc(3 * 4096, 7);
    const filler = new MessageFiller(4096);
    const messages = filler.add(piece);
    expect(messages.map((m) => m.bytes)).toEqual([4096, 4096, 4096]);
    // The same memory as the piece: views, not copies.
    expect(messages.every((m) => m.pieces.every((p) => p.buffer === piece.buffer))).toBe(true);
    expect(filler.finish()).toBeNull();
  });

  it("holds pieces until a message is full", () => {
    const filler = new MessageFiller(10);
    expect(filler.add(Buffer.alloc(4))).toEqual([]);
    expect(filler.add(Buffer.alloc(5))).toEqual([]);
    const [full] = filler.add(Buffer.from([1, 2, 3]));
    expect(full?.bytes).toBe(10);
    expect(full?.pieces.map((p) => p.length)).toEqual([4, 5, 1]);
    expect(filler.finish()?.bytes).toBe(2);
  });

  it("refuses a message size that is not a positive integer", () => {
    expect(() => new MessageFiller(0)).toThrow(/positive integer/);
    expect(() => new MessageFiller(1.5)).toThrow(/positive integer/);
  });
});
