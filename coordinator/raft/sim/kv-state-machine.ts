import { applyKv, type KvInput, type KvOutput } from "./kv-model.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A client command as written into a log entry: who sent it, its sequence number, what it does. */
export interface KvCommand {
  readonly clientId: number;
  /** Per-client sequence number, increasing; used to apply each command at most once. */
  readonly seq: number;
  readonly input: KvInput;
}

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

/** The outcome of applying one command. `duplicate` when it was applied before (§6.3). */
export interface KvApplyResult {
  readonly command: KvCommand;
  readonly output: KvOutput;
  readonly duplicate: boolean;
}

interface Session {
  readonly seq: number;
  readonly output: KvOutput;
}

/** FNV-1a over a string with a given basis (two bases give two independent 32-bit lanes). */
function fnv1a(text: string, basis: number): number {
  let hash = basis;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/**
 * An order-independent digest of a set of records, updated in O(1) per change: the sum of
 * each record's hash in two 32-bit lanes. Equal states have equal digests whatever the
 * path (log or snapshot) that led to them.
 */
class SetDigest {
  private low = 0;
  private high = 0;
  add(record: string, sign: 1 | -1): void {
    this.low = (this.low + sign * fnv1a(record, 0x811c9dc5)) >>> 0;
    this.high = (this.high + sign * fnv1a(record, 0x01000193)) >>> 0;
  }
  toString(): string {
    return `${this.high.toString(16).padStart(8, "0")}${this.low.toString(16).padStart(8, "0")}`;
  }
}

function valueRecord(key: string, value: string): string {
  return `v ${JSON.stringify(key)} ${JSON.stringify(value)}`;
}

function sessionRecord(clientId: number, session: Session): string {
  return `s ${clientId} ${session.seq} ${JSON.stringify(session.output)}`;
}

/**
 * The replicated key-value state machine of the simulation. Client sessions make a command
 * that reaches the log twice (a duplicated or retried proposal) take effect once and answer
 * with the first result (dissertation §6.3).
 */
export class KvStateMachine {
  private readonly values = new Map<string, string>();
  private readonly sessions = new Map<number, Session>();
  private readonly digestSet = new SetDigest();

  private setValue(key: string, value: string | null): void {
    const old = this.values.get(key);
    if (old !== undefined) this.digestSet.add(valueRecord(key, old), -1);
    if (value === null) this.values.delete(key);
    else {
      this.values.set(key, value);
      this.digestSet.add(valueRecord(key, value), 1);
    }
  }

  private setSession(clientId: number, session: Session): void {
    const old = this.sessions.get(clientId);
    if (old !== undefined) this.digestSet.add(sessionRecord(clientId, old), -1);
    this.sessions.set(clientId, session);
    this.digestSet.add(sessionRecord(clientId, session), 1);
  }

  apply(data: Uint8Array): KvApplyResult {
    const command = decodeCommand(data);
    const session = this.sessions.get(command.clientId);
    if (session !== undefined && command.seq <= session.seq) {
      // Only the latest result is kept: a client has one command outstanding at a time.
      return { command, output: session.output, duplicate: true };
    }
    const next = applyKv(this.values.get(command.input.key) ?? null, command.input);
    this.setValue(command.input.key, next.value);
    this.setSession(command.clientId, { seq: command.seq, output: next.output });
    return { command, output: next.output, duplicate: false };
  }

  /** A linearizable read is served from here once the ReadIndex point is applied (§6.4). */
  read(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  /** Deterministic bytes: equal states serialize to equal bytes. */
  serialize(): Uint8Array {
    const values = [...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const sessions = [...this.sessions.entries()].sort(([a], [b]) => a - b);
    return encoder.encode(JSON.stringify({ values, sessions }));
  }

  static restore(data: Uint8Array): KvStateMachine {
    const machine = new KvStateMachine();
    if (data.byteLength === 0) return machine;
    const parsed = JSON.parse(decoder.decode(data)) as {
      values: [string, string][];
      sessions: [number, Session][];
    };
    for (const [key, value] of parsed.values) machine.setValue(key, value);
    for (const [clientId, session] of parsed.sessions) machine.setSession(clientId, session);
    return machine;
  }

  /** Equal for equal states (values and sessions), however they were reached. */
  digest(): string {
    return this.digestSet.toString();
  }
}
