import { assert } from "../common/errors.js";

/** One message's worth of a body: its pieces in order and their total length. */
export interface FilledMessage {
  readonly pieces: readonly Uint8Array[];
  readonly bytes: number;
}

/**
 * Groups a body's pieces, of whatever sizes the client's writes and TCP made them, into
 * messages of exactly `messageBytes` (the last of a body may be shorter). A piece that
 * straddles two messages is split with `subarray`, so no byte is copied here.
 */
export class MessageFiller {
  private held: Uint8Array[] = [];
  private heldBytes = 0;

  constructor(private readonly messageBytes: number) {
    assert(Number.isSafeInteger(messageBytes) && messageBytes > 0, "messageBytes must be a positive integer");
  }

  /** Takes the next piece; returns the messages it completed, in order (often none). */
  add(piece: Uint8Array): FilledMessage[] {
    const full: FilledMessage[] = [];
    let rest = piece;
    while (this.heldBytes + rest.length >= this.messageBytes) {
      const take = this.messageBytes - this.heldBytes;
      this.held.push(rest.subarray(0, take));
      rest = rest.subarray(take);
      full.push({ pieces: this.held, bytes: this.messageBytes });
      this.held = [];
      this.heldBytes = 0;
    }
    if (rest.length > 0) {
      this.held.push(rest);
      this.heldBytes += rest.length;
    }
    return full;
  }

  /** The body ended: the bytes still held, as its last message (null if none). */
  finish(): FilledMessage | null {
    if (this.heldBytes === 0) return null;
    const last = { pieces: this.held, bytes: this.heldBytes };
    this.held = [];
    this.heldBytes = 0;
    return last;
  }
}
