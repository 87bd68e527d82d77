/**
 * MessageBatch (proto/raft.proto) straight between the core's Messages and protobuf bytes,
 * for the RaftInternal methods that carry batches. The generic path (proto-loader's
 * fromObject/encode, then decode/toObject with 64-bit fields as strings, then
 * raft-message-codec.ts) built four objects per message and per entry and a string per
 * number; on the benchmark machine it was a fifth of a follower's CPU per proposal. The
 * bytes are the same protobuf either way (raft-batch-codec.test.ts checks both directions
 * against protobufjs), so peers running either path understand each other.
 *
 * Decoding validates what raft-message-codec.ts decodeMessage does and reports a
 * malformed batch as a value (never a throw inside gRPC's deserializer): the receiver
 * answers it with INVALID_ARGUMENT. Decoded entry data and contexts are views of the
 * received bytes (as protobufjs's were): nothing writes to them.
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import {
  FIXED32,
  FIXED64,
  LENGTH_DELIMITED,
  ProtoWriter,
  VARINT,
  varintSize,
} from "../../common/proto-wire.js";
import type { ConfState, Entry, Message, MessageType, SnapshotMeta } from "./core/types.js";

/** What a batch stream carries: messages to one peer, and the sender's gRPC address. */
export interface OutboundBatch {
  readonly messages: readonly Message[];
  readonly fromAddress: string;
}

export type InboundBatch =
  | { readonly ok: true; readonly messages: Message[]; readonly fromAddress: string }
  | { readonly ok: false; readonly error: MinikvError };

/** MessageType numbers of proto/raft.proto. */
const TYPE_NUMBERS: Readonly<Record<MessageType, number>> = {
  preVote: 1,
  preVoteResp: 2,
  vote: 3,
  voteResp: 4,
  append: 5,
  appendResp: 6,
  heartbeat: 7,
  heartbeatResp: 8,
  snapshot: 9,
  timeoutNow: 10,
  propose: 11,
  readIndex: 12,
  readIndexResp: 13,
  transferLeader: 14,
};

const TYPES_BY_NUMBER: readonly (MessageType | undefined)[] = (() => {
  const out: (MessageType | undefined)[] = [];
  for (const [type, n] of Object.entries(TYPE_NUMBERS)) out[n] = type as MessageType;
  return out;
})();

const EMPTY: Uint8Array = new Uint8Array(0);

// ---- encoding ---------------------------------------------------------------------------

/** Size of field `field` holding a non-zero varint (zero fields are left out, as proto3 allows). */
function varintFieldSize(value: number): number {
  return value === 0 ? 0 : 1 + varintSize(value);
}

/** Size of a length-delimited field of `length` bytes (tags here are all below 16: one byte). */
function bytesFieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

function entrySize(entry: Entry): number {
  return (
    varintFieldSize(entry.term) +
    varintFieldSize(entry.index) +
    (entry.type === "confChange" ? 2 : 0) +
    (entry.data.byteLength === 0 ? 0 : bytesFieldSize(entry.data.byteLength))
  );
}

function confStateSize(conf: ConfState): number {
  let size = 0;
  for (const id of conf.voters) size += bytesFieldSize(Buffer.byteLength(id));
  for (const id of conf.learners) size += bytesFieldSize(Buffer.byteLength(id));
  return size;
}

function snapshotSize(meta: SnapshotMeta): number {
  return (
    varintFieldSize(meta.index) + varintFieldSize(meta.term) + bytesFieldSize(confStateSize(meta.confState))
  );
}

/** The message's encoded size, and each entry's (the writer needs them as length prefixes). */
function messageSize(m: Message, entrySizes: number[]): number {
  let size =
    2 + // type: never zero
    bytesFieldSize(Buffer.byteLength(m.from)) +
    bytesFieldSize(Buffer.byteLength(m.to)) +
    varintFieldSize(m.term) +
    varintFieldSize(m.logTerm) +
    varintFieldSize(m.index) +
    varintFieldSize(m.commit) +
    (m.reject ? 2 : 0) +
    varintFieldSize(m.rejectHint) +
    varintFieldSize(m.rejectTermHint) +
    (m.context.byteLength === 0 ? 0 : bytesFieldSize(m.context.byteLength));
  for (const entry of m.entries) {
    const n = entrySize(entry);
    entrySizes.push(n);
    size += bytesFieldSize(n);
  }
  if (m.snapshot !== null) size += bytesFieldSize(snapshotSize(m.snapshot));
  return size;
}

function writeSnapshot(w: ProtoWriter, meta: SnapshotMeta): void {
  w.tag(12, LENGTH_DELIMITED);
  w.varint(snapshotSize(meta));
  w.varintField(1, meta.index);
  w.varintField(2, meta.term);
  w.tag(3, LENGTH_DELIMITED);
  w.varint(confStateSize(meta.confState));
  for (const id of meta.confState.voters) w.stringField(1, id);
  for (const id of meta.confState.learners) w.stringField(2, id);
}

function writeMessage(
  w: ProtoWriter,
  m: Message,
  size: number,
  entrySizes: readonly number[],
  first: number,
): void {
  w.tag(1, LENGTH_DELIMITED);
  w.varint(size);
  w.varintField(1, TYPE_NUMBERS[m.type]);
  w.stringField(2, m.from);
  w.stringField(3, m.to);
  w.varintField(4, m.term);
  w.varintField(5, m.logTerm);
  w.varintField(6, m.index);
  for (let i = 0; i < m.entries.length; i++) {
    const entry = m.entries[i];
    if (entry === undefined) continue;
    w.tag(7, LENGTH_DELIMITED);
    w.varint(entrySizes[first + i] ?? 0);
    w.varintField(1, entry.term);
    w.varintField(2, entry.index);
    w.varintField(3, entry.type === "confChange" ? 1 : 0);
    if (entry.data.byteLength > 0) w.bytesField(4, entry.data);
  }
  w.varintField(8, m.commit);
  w.varintField(9, m.reject ? 1 : 0);
  w.varintField(10, m.rejectHint);
  w.varintField(11, m.rejectTermHint);
  if (m.snapshot !== null) writeSnapshot(w, m.snapshot);
  if (m.context.byteLength > 0) w.bytesField(13, m.context);
}

/** A MessageBatch's protobuf bytes, in one buffer. Numbers must be safe non-negative integers. */
export function encodeBatch(batch: OutboundBatch): Buffer {
  const entrySizes: number[] = [];
  const sizes = batch.messages.map((m) => messageSize(m, entrySizes));
  let total = bytesFieldSize(Buffer.byteLength(batch.fromAddress));
  for (const size of sizes) total += bytesFieldSize(size);
  const w = new ProtoWriter(Buffer.allocUnsafe(total));
  let first = 0;
  for (const [i, m] of batch.messages.entries()) {
    writeMessage(w, m, sizes[i] ?? 0, entrySizes, first);
    first += m.entries.length;
  }
  w.stringField(2, batch.fromAddress);
  if (w.at !== total) throw new Error(`raft batch encoded to ${w.at} bytes, expected ${total}`);
  return w.buf;
}

// ---- decoding ---------------------------------------------------------------------------

function invalid(message: string): MinikvError {
  return new MinikvError(ErrorCode.INVALID_ARGUMENT, `raft message: ${message}`);
}

class Reader {
  at: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.at = start;
  }

  more(): boolean {
    return this.at < this.end;
  }

  /** A varint as a number; `field` names it when it exceeds 2^53 - 1. */
  varint(field: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) throw invalid("truncated");
      const b = this.buf[this.at++] ?? 0;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) throw invalid(`${field} is out of range`);
        return value;
      }
      scale *= 0x80;
    }
    throw invalid("malformed varint");
  }

  /** The bounds [start, end) of a length-delimited field's bytes. */
  delimited(): [number, number] {
    const length = this.varint("length");
    const start = this.at;
    if (length > this.end - start) throw invalid("truncated");
    this.at = start + length;
    return [start, this.at];
  }

  string(): string {
    const [start, end] = this.delimited();
    return this.buf.toString("utf8", start, end);
  }

  bytes(): Uint8Array {
    const [start, end] = this.delimited();
    return start === end ? EMPTY : new Uint8Array(this.buf.buffer, this.buf.byteOffset + start, end - start);
  }

  sub(): Reader {
    const [start, end] = this.delimited();
    return new Reader(this.buf, start, end);
  }

  /** Skips a field this decoder does not know (a newer sender's), as protobuf requires. */
  skip(wireType: number): void {
    if (wireType === VARINT) this.varint("unknown field");
    else if (wireType === LENGTH_DELIMITED) this.delimited();
    else if (wireType === FIXED64) this.advance(8);
    else if (wireType === FIXED32) this.advance(4);
    else throw invalid(`unsupported wire type ${wireType}`);
  }

  private advance(n: number): void {
    if (n > this.end - this.at) throw invalid("truncated");
    this.at += n;
  }
}

function expectWire(actual: number, expected: number): void {
  if (actual !== expected) throw invalid("a field has the wrong wire type");
}

function decodeEntry(r: Reader): Entry {
  let term = 0;
  let index = 0;
  let type = 0;
  let data = EMPTY;
  while (r.more()) {
    const key = r.varint("tag");
    const wire = key & 7;
    switch (key >>> 3) {
      case 1:
        expectWire(wire, VARINT);
        term = r.varint("entry term");
        break;
      case 2:
        expectWire(wire, VARINT);
        index = r.varint("entry index");
        break;
      case 3:
        expectWire(wire, VARINT);
        type = r.varint("entry type");
        break;
      case 4:
        expectWire(wire, LENGTH_DELIMITED);
        data = r.bytes();
        break;
      default:
        r.skip(wire);
    }
  }
  if (type !== 0 && type !== 1) throw invalid("unknown entry type");
  return { term, index, type: type === 1 ? "confChange" : "normal", data };
}

function decodeConfState(r: Reader): ConfState {
  const voters: string[] = [];
  const learners: string[] = [];
  while (r.more()) {
    const key = r.varint("tag");
    const wire = key & 7;
    const field = key >>> 3;
    if (field === 1 || field === 2) {
      expectWire(wire, LENGTH_DELIMITED);
      (field === 1 ? voters : learners).push(r.string());
    } else {
      r.skip(wire);
    }
  }
  return { voters, learners };
}

function decodeSnapshot(r: Reader): SnapshotMeta {
  let index = 0;
  let term = 0;
  let confState: ConfState | null = null;
  while (r.more()) {
    const key = r.varint("tag");
    const wire = key & 7;
    switch (key >>> 3) {
      case 1:
        expectWire(wire, VARINT);
        index = r.varint("snapshot index");
        break;
      case 2:
        expectWire(wire, VARINT);
        term = r.varint("snapshot term");
        break;
      case 3:
        expectWire(wire, LENGTH_DELIMITED);
        confState = decodeConfState(r.sub());
        break;
      default:
        r.skip(wire);
    }
  }
  if (confState === null) throw invalid("snapshot without a configuration");
  return { index, term, confState };
}

interface MessageFields {
  type: number;
  from: string;
  to: string;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  rejectTermHint: number;
  snapshot: SnapshotMeta | null;
  context: Uint8Array;
}

function decodeField(r: Reader, m: MessageFields, field: number, wire: number): void {
  switch (field) {
    case 1:
      expectWire(wire, VARINT);
      m.type = r.varint("type");
      return;
    case 2:
    case 3:
      expectWire(wire, LENGTH_DELIMITED);
      if (field === 2) m.from = r.string();
      else m.to = r.string();
      return;
    case 4:
    case 5:
    case 6:
    case 8:
    case 10:
    case 11:
      expectWire(wire, VARINT);
      decodeNumber(r, m, field);
      return;
    case 7:
      expectWire(wire, LENGTH_DELIMITED);
      m.entries.push(decodeEntry(r.sub()));
      return;
    case 9:
      expectWire(wire, VARINT);
      m.reject = r.varint("reject") !== 0;
      return;
    case 12:
      expectWire(wire, LENGTH_DELIMITED);
      m.snapshot = decodeSnapshot(r.sub());
      return;
    case 13:
      expectWire(wire, LENGTH_DELIMITED);
      m.context = r.bytes();
      return;
    default:
      r.skip(wire);
  }
}

function decodeNumber(r: Reader, m: MessageFields, field: number): void {
  if (field === 4) m.term = r.varint("term");
  else if (field === 5) m.logTerm = r.varint("logTerm");
  else if (field === 6) m.index = r.varint("index");
  else if (field === 8) m.commit = r.varint("commit");
  else if (field === 10) m.rejectHint = r.varint("rejectHint");
  else m.rejectTermHint = r.varint("rejectTermHint");
}

function decodeMessage(r: Reader): Message {
  const m: MessageFields = {
    type: 0,
    from: "",
    to: "",
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    rejectTermHint: 0,
    snapshot: null,
    context: EMPTY,
  };
  while (r.more()) {
    const key = r.varint("tag");
    decodeField(r, m, key >>> 3, key & 7);
  }
  const type = TYPES_BY_NUMBER[m.type];
  if (type === undefined) throw invalid(`unknown type ${m.type}`);
  if (m.from.length === 0 || m.to.length === 0) throw invalid("missing from/to");
  return {
    type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries,
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    rejectTermHint: m.rejectTermHint,
    snapshot: m.snapshot,
    context: m.context,
  };
}

/** Decodes a MessageBatch; a malformed one is reported, never thrown. */
export function decodeBatch(bytes: Buffer): InboundBatch {
  try {
    const r = new Reader(bytes, 0, bytes.length);
    const messages: Message[] = [];
    let fromAddress = "";
    while (r.more()) {
      const key = r.varint("tag");
      const wire = key & 7;
      const field = key >>> 3;
      if (field === 1) {
        expectWire(wire, LENGTH_DELIMITED);
        messages.push(decodeMessage(r.sub()));
      } else if (field === 2) {
        expectWire(wire, LENGTH_DELIMITED);
        fromAddress = r.string();
      } else {
        r.skip(wire);
      }
    }
    return { ok: true, messages, fromAddress };
  } catch (err) {
    if (err instanceof MinikvError) return { ok: false, error: err };
    return { ok: false, error: invalid(err instanceof Error ? err.message : String(err)) };
  }
}
