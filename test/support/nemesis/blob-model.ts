import type { Model, Operation, StepResult } from "../../../coordinator/raft/sim/linearizability.js";
import type { BlobRecord } from "./history.js";

/**
 * The blob store as a register per key (issue 6 checks): a key holds the id of the value
 * last PUT, or nothing. GET returns that id or not-found; DELETE makes it not-found and
 * answers whether there was something to delete (204 or 404); PUT replaces it. A LIST is
 * checked per key as an "exists" read over the LIST's interval: sound (each key's answer
 * must be linearizable on its own), though it does not check that one LIST is a snapshot
 * across keys.
 */
export type BlobInput =
  | { readonly kind: "put"; readonly key: string; readonly valueId: string }
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "delete"; readonly key: string }
  | { readonly kind: "exists"; readonly key: string };

export type BlobOutput =
  | { readonly kind: "put" }
  | { readonly kind: "get"; readonly valueId: string | null }
  | { readonly kind: "delete"; readonly existed: boolean }
  | { readonly kind: "exists"; readonly present: boolean };

export type BlobOperation = Operation<BlobInput, BlobOutput>;

function step(state: string | null, input: BlobInput, output: BlobOutput | null): StepResult<string | null> {
  switch (input.kind) {
    case "put":
      return { ok: true, state: input.valueId };
    case "get":
      return output === null || (output.kind === "get" && output.valueId === state)
        ? { ok: true, state }
        : { ok: false };
    case "delete":
      return output === null || (output.kind === "delete" && output.existed === (state !== null))
        ? { ok: true, state: null }
        : { ok: false };
    case "exists":
      return output === null || (output.kind === "exists" && output.present === (state !== null))
        ? { ok: true, state }
        : { ok: false };
  }
}

function partitionByKey(operations: readonly BlobOperation[]): BlobOperation[][] {
  const byKey = new Map<string, BlobOperation[]>();
  for (const operation of operations) {
    const part = byKey.get(operation.input.key);
    if (part === undefined) byKey.set(operation.input.key, [operation]);
    else part.push(operation);
  }
  return [...byKey.keys()].sort().map((key) => byKey.get(key)!);
}

function describe(operation: BlobOperation): string {
  const input = operation.input;
  const arg = input.kind === "put" ? ` ${input.valueId}` : "";
  const output = operation.output;
  const shown =
    output === null
      ? "unknown"
      : output.kind === "get"
        ? (output.valueId ?? "not-found")
        : output.kind === "delete"
          ? output.existed
            ? "deleted"
            : "not-found"
          : output.kind === "exists"
            ? output.present
              ? "listed"
              : "not listed"
            : "ok";
  const end = operation.return === null ? "∞" : operation.return.toFixed(1);
  return `client ${operation.clientId} [${operation.call.toFixed(1)}, ${end}] ${input.kind} ${input.key}${arg} → ${shown}`;
}

export const blobModel: Model<string | null, BlobInput, BlobOutput> = {
  init: () => null,
  step,
  hash: (state) => (state === null ? "" : `v:${state}`),
  partition: partitionByKey,
  describe,
};

/**
 * The checker's operations for a history: failed requests are left out (they had no
 * effect); unknown writes may take effect at any time after their call, or never; reads
 * whose outcome is not "ok" say nothing. A LIST becomes one "exists" read per key of
 * `keySet`.
 */
export function toOperations(records: readonly BlobRecord[], keySet: readonly string[]): BlobOperation[] {
  const operations: BlobOperation[] = [];
  for (const r of records) {
    if (r.outcome === "fail") continue;
    const known = r.outcome === "ok";
    const timing = { clientId: r.clientId, call: r.callMs, return: known ? r.returnMs : null };
    const result = r.result;
    switch (r.kind) {
      case "put":
        operations.push({
          ...timing,
          input: { kind: "put", key: r.key, valueId: r.valueId! },
          output: known ? { kind: "put" } : null,
        });
        break;
      case "delete":
        operations.push({
          ...timing,
          input: { kind: "delete", key: r.key },
          output: known && result?.kind === "delete" ? { kind: "delete", existed: result.existed } : null,
        });
        break;
      case "get":
        if (known && result?.kind === "get") {
          operations.push({
            ...timing,
            input: { kind: "get", key: r.key },
            output: { kind: "get", valueId: result.valueId },
          });
        }
        break;
      case "list":
        if (known && result?.kind === "list") {
          for (const key of keySet) {
            const present = result.keys.includes(key);
            operations.push({
              ...timing,
              input: { kind: "exists", key },
              output: { kind: "exists", present },
            });
          }
        }
        break;
    }
  }
  return operations;
}
