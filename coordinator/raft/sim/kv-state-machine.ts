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

/** FNV-1a over a string: a short digest for comparing states across nodes. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

/**
 * The replicated key-value state machine of the simulation. Client sessions make a command
 * that reaches the log twice (a duplicated or retried proposal) take effect once and answer
 * with the first result (dissertation §6.3).
 */
export class KvStateMachine {
  private readonly values = new Map<string, string>();
  private readonly sessions = new Map<number, Session>();

  apply(data: Uint8Array): KvApplyResult {
    const command = decodeCommand(data);
    const session = this.sessions.get(command.clientId);
    if (session !== undefined && command.seq <= session.seq) {
      // Only the latest result is kept: a client has one command outstanding at a time.
      return { command, output: session.output, duplicate: true };
    }
    const next = applyKv(this.values.get(command.input.key) ?? null, command.input);
    if (next.value === null) this.values.delete(command.input.key);
    else this.values.set(command.input.key, next.value);
    this.sessions.set(command.clientId, { seq: command.seq, output: next.output });
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
    for (const [key, value] of parsed.values) machine.values.set(key, value);
    for (const [clientId, session] of parsed.sessions) machine.sessions.set(clientId, session);
    return machine;
  }

  digest(): string {
    return fnv1a(decoder.decode(this.serialize()));
  }
}
