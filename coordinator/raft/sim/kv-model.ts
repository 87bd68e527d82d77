import type { Model, Operation, StepResult } from "./linearizability.js";

/** A client request to the replicated key-value store. A missing key reads as null. */
export type KvInput =
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "put"; readonly key: string; readonly value: string }
  /** Compare-and-set: writes `value` only if the current value equals `expected`. */
  | { readonly kind: "cas"; readonly key: string; readonly expected: string | null; readonly value: string }
  /** Appends `value` to the current value (null counts as ""). */
  | { readonly kind: "append"; readonly key: string; readonly value: string };

export type KvOutput =
  | { readonly kind: "get"; readonly value: string | null }
  | { readonly kind: "put" }
  | { readonly kind: "cas"; readonly ok: boolean }
  | { readonly kind: "append" };

export type KvOperation = Operation<KvInput, KvOutput>;

/** The sequential specification of one key: what `applyKv` computes, as a pure function. */
export function applyKv(value: string | null, input: KvInput): { value: string | null; output: KvOutput } {
  switch (input.kind) {
    case "get":
      return { value, output: { kind: "get", value } };
    case "put":
      return { value: input.value, output: { kind: "put" } };
    case "cas":
      return value === input.expected
        ? { value: input.value, output: { kind: "cas", ok: true } }
        : { value, output: { kind: "cas", ok: false } };
    case "append":
      return { value: (value ?? "") + input.value, output: { kind: "append" } };
  }
}

function sameOutput(x: KvOutput, y: KvOutput): boolean {
  if (x.kind !== y.kind) return false;
  if (x.kind === "get" && y.kind === "get") return x.value === y.value;
  if (x.kind === "cas" && y.kind === "cas") return x.ok === y.ok;
  return true;
}

function partitionByKey(operations: readonly KvOperation[]): KvOperation[][] {
  const byKey = new Map<string, KvOperation[]>();
  for (const operation of operations) {
    const part = byKey.get(operation.input.key);
    if (part === undefined) byKey.set(operation.input.key, [operation]);
    else part.push(operation);
  }
  return [...byKey.keys()].sort().map((key) => byKey.get(key) as KvOperation[]);
}

function describeKv(operation: KvOperation): string {
  const input = operation.input;
  const args =
    input.kind === "get"
      ? input.key
      : input.kind === "cas"
        ? `${input.key} ${JSON.stringify(input.expected)}→${JSON.stringify(input.value)}`
        : `${input.key} ${JSON.stringify(input.value)}`;
  const output = operation.output;
  const shown =
    operation.return === null || output === null
      ? "unknown"
      : output.kind === "get"
        ? JSON.stringify(output.value)
        : output.kind === "cas"
          ? String(output.ok)
          : "ok";
  const ret = operation.return === null ? "∞" : String(operation.return);
  return `client ${operation.clientId} [${operation.call}, ${ret}] ${input.kind} ${args} → ${shown}`;
}

/**
 * The key-value model for one key at a time (histories are partitioned by key), so a
 * state is that key's value.
 */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step: (state, input, output): StepResult<string | null> => {
    const next = applyKv(state, input);
    if (output !== null && !sameOutput(next.output, output)) return { ok: false };
    return { ok: true, state: next.value };
  },
  hash: (state) => (state === null ? "∅" : `=${state}`),
  partition: partitionByKey,
  describe: describeKv,
};
