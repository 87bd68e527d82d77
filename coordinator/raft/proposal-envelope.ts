/**
 * How the driver recognizes its own proposals when they come back applied. The core gives
 * a proposal no index (a follower forwards it without knowing where it lands), so each
 * entry carries the proposing driver's incarnation nonce and a sequence number:
 *
 *   normal entry data:   u8 version (1), 8-byte nonce, u64 sequence, payload
 *   conf change context: JSON {"address": "host:port", "nonce": hex, "seq": n}
 *
 * The nonce is random per driver start, so a proposal of an earlier incarnation committed
 * late is never mistaken for a new one. The state machine sees only the payload.
 */
import { randomBytes } from "node:crypto";
import type { ConfChange } from "./core/types.js";

const VERSION = 1;
export const ENVELOPE_HEADER_BYTES = 17;

/** Identifies one proposal of one driver incarnation. */
export interface ProposalTag {
  readonly nonce: string;
  readonly seq: number;
}

export function newNonce(): Buffer {
  return randomBytes(8);
}

/** `seq` is a safe integer (a driver's proposal counter). */
export function wrapPayload(nonce: Buffer, seq: number, payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + payload.byteLength);
  out[0] = VERSION;
  nonce.copy(out, 1);
  out.writeUInt32BE(Math.floor(seq / 2 ** 32), 9);
  out.writeUInt32BE(seq >>> 0, 13);
  out.set(payload, ENVELOPE_HEADER_BYTES);
  return out;
}

function isEnvelope(data: Uint8Array): boolean {
  return data.byteLength >= ENVELOPE_HEADER_BYTES && data[0] === VERSION;
}

/** The payload of entry data (a view); data not written by wrapPayload is all payload. */
export function payloadOf(data: Uint8Array): Uint8Array {
  return isEnvelope(data) ? data.subarray(ENVELOPE_HEADER_BYTES) : data;
}

/**
 * The sequence number of entry data proposed by the driver incarnation `nonce`; null for
 * anyone else's (compared as bytes: this runs for every applied entry on every member).
 */
export function ownSeq(data: Uint8Array, nonce: Buffer): number | null {
  if (!isEnvelope(data)) return null;
  for (let i = 0; i < 8; i++) if (data[1 + i] !== nonce[i]) return null;
  let seq = 0;
  for (let i = 9; i < ENVELOPE_HEADER_BYTES; i++) seq = seq * 256 + (data[i] ?? 0);
  return seq;
}

/** What the driver puts in ConfChange.context. */
export interface ConfChangeContext {
  /** The member's gRPC address ("" when not given, e.g. promote and remove). */
  readonly address: string;
  readonly tag: ProposalTag | null;
}

export function encodeConfContext(address: string, nonce: Buffer, seq: number): string {
  return JSON.stringify({ address, nonce: nonce.toString("hex"), seq });
}

/** Reads a ConfChange.context; anything unexpected yields no address and no tag. */
export function decodeConfContext(change: ConfChange): ConfChangeContext {
  try {
    const parsed = JSON.parse(change.context) as Record<string, unknown>;
    const address = typeof parsed["address"] === "string" ? parsed["address"] : "";
    const { nonce, seq } = parsed;
    const tag = typeof nonce === "string" && typeof seq === "number" ? { nonce, seq } : null;
    return { address, tag };
  } catch {
    return { address: "", tag: null };
  }
}
