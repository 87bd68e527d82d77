/**
 * A linearizability checker for recorded client histories, after Wing & Gong (1993) with
 * Lowe's memoization (2017), as porcupine does it: a depth-first search over the events in
 * time order that tries to linearize each pending call, backtracks when a return is reached
 * whose call is not yet linearized, and never revisits a (linearized set, model state) pair.
 *
 * Histories are split by `model.partition` (per key for a key-value store) because
 * linearizability is compositional (Herlihy & Wing 1990, §3.3): each part is checked alone.
 *
 * The API is generic: the simulator and a real-cluster test feed it the same way.
 */

/** One client operation as observed by the client. */
export interface Operation<I, O> {
  readonly clientId: number | string;
  readonly input: I;
  /** The result, or null when it is unknown (then any result is acceptable). */
  readonly output: O | null;
  /** Invocation time. Any clock, as long as it orders events the client really saw in order. */
  readonly call: number;
  /**
   * Completion time (≥ call), or null when the client never saw the operation complete
   * (timeout, crash of its server): it may then have taken effect at any time after `call`,
   * or never. Its output is usually null too; a known one (say, learned from the server's
   * state afterwards) must still be matched.
   */
  readonly return: number | null;
}

export type StepResult<S> = { readonly ok: true; readonly state: S } | { readonly ok: false };

/** A sequential specification of the object under test. Must be deterministic and pure. */
export interface Model<S, I, O> {
  init(): S;
  /**
   * Applies `input` to `state`. Returns the next state when `output` is what the
   * specification would answer (with `output === null`, any answer is acceptable), and
   * `{ ok: false }` otherwise. Must not mutate `state`.
   */
  step(state: S, input: I, output: O | null): StepResult<S>;
  /** An injective encoding of a state: equal strings if and only if equal states. */
  hash(state: S): string;
  /** Splits a history into independently checkable parts (default: one part). */
  partition?(operations: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** Human-readable operation, for reports. */
  describe?(operation: Operation<I, O>): string;
}

/** "unknown": the search budget ran out before an answer (never a guess). */
export type CheckVerdict = "ok" | "illegal" | "unknown";

/** The verdict on one part of a history (one key, for the KV model) and what it cost. */
export interface PartitionResult {
  readonly verdict: CheckVerdict;
  readonly operationCount: number;
  readonly searchSteps: number;
  /** For "illegal": the longest linearized prefix found, as indices into the part. */
  readonly longestPrefix: readonly number[];
}

/** The verdict on a whole history, with the failing part and a readable explanation. */
export interface CheckResult<I, O> {
  /** "illegal" if any part is; else "unknown" if any part ran out of budget; else "ok". */
  readonly verdict: CheckVerdict;
  readonly partitions: readonly PartitionResult[];
  /** For "illegal": the operations of the first failing part, and a readable explanation. */
  readonly failingPartition: readonly Operation<I, O>[] | null;
  readonly explanation: string;
}

/** Bounds of the search. */
export interface CheckOptions {
  /**
   * Search steps allowed per part before the verdict is "unknown" rather than an answer
   * (the problem is NP-complete; a bound keeps a test from hanging).
   */
  readonly maxStepsPerPartition: number;
}

export const defaultCheckOptions: CheckOptions = { maxStepsPerPartition: 2_000_000 };

interface EventNode {
  readonly opIndex: number;
  readonly isCall: boolean;
  /** The return node of a call node. */
  match: EventNode | null;
  prev: EventNode | null;
  next: EventNode | null;
}

function validate<I, O>(operation: Operation<I, O>): void {
  if (!Number.isFinite(operation.call)) throw new Error(`operation with a non-finite call time`);
  if (operation.return !== null && !(operation.return >= operation.call)) {
    throw new Error(`operation returns (${operation.return}) before its call (${operation.call})`);
  }
}

/** Builds the doubly linked event list in time order; a call sorts before a return at the same time. */
function buildEventList<I, O>(operations: readonly Operation<I, O>[]): EventNode {
  const events: { node: EventNode; time: number }[] = [];
  operations.forEach((operation, opIndex) => {
    validate(operation);
    const ret: EventNode = { opIndex, isCall: false, match: null, prev: null, next: null };
    const call: EventNode = { opIndex, isCall: true, match: ret, prev: null, next: null };
    events.push({ node: call, time: operation.call });
    events.push({ node: ret, time: operation.return ?? Number.POSITIVE_INFINITY });
  });
  events.sort((x, y) => {
    if (x.time !== y.time) return x.time < y.time ? -1 : 1;
    if (x.node.isCall !== y.node.isCall) return x.node.isCall ? -1 : 1;
    return x.node.opIndex - y.node.opIndex;
  });
  const head: EventNode = { opIndex: -1, isCall: false, match: null, prev: null, next: null };
  let tail = head;
  for (const { node } of events) {
    tail.next = node;
    node.prev = tail;
    tail = node;
  }
  return head;
}

/** Removes a call and its return from the list (they stay linked to restore later). */
function lift(call: EventNode): void {
  const ret = call.match as EventNode;
  (call.prev as EventNode).next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  (ret.prev as EventNode).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Undoes lift(call); must be called in the reverse order of the lifts. */
function unlift(call: EventNode): void {
  const ret = call.match as EventNode;
  (ret.prev as EventNode).next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  (call.prev as EventNode).next = call;
  if (call.next !== null) call.next.prev = call;
}

class Bitset {
  private readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32) || 1);
  }
  set(i: number): void {
    this.words[i >>> 5] = ((this.words[i >>> 5] as number) | (1 << (i & 31))) >>> 0;
  }
  clear(i: number): void {
    this.words[i >>> 5] = ((this.words[i >>> 5] as number) & ~(1 << (i & 31))) >>> 0;
  }
  key(): string {
    return this.words.join(",");
  }
}

interface Frame<S> {
  readonly call: EventNode;
  readonly state: S;
}

/** Checks one part. Exported for tests; use checkOperations otherwise. */
export function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  maxSteps: number,
): PartitionResult {
  const head = buildEventList(operations);
  const linearized = new Bitset(operations.length);
  const seen = new Set<string>();
  const stack: Frame<S>[] = [];
  let longestPrefix: number[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  const result = (verdict: CheckVerdict): PartitionResult => ({
    verdict,
    operationCount: operations.length,
    searchSteps: steps,
    longestPrefix,
  });
  while (head.next !== null) {
    if (++steps > maxSteps) return result("unknown");
    if (entry === null) throw new Error("linearizability search ran off the event list");
    if (entry.isCall) {
      const operation = operations[entry.opIndex] as Operation<I, O>;
      const next = model.step(state, operation.input, operation.output);
      if (next.ok) {
        linearized.set(entry.opIndex);
        const key = `${linearized.key()}|${model.hash(next.state)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = next.state;
          lift(entry);
          if (stack.length > longestPrefix.length) longestPrefix = stack.map((f) => f.call.opIndex);
          entry = head.next;
          continue;
        }
        linearized.clear(entry.opIndex);
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized: this branch cannot be completed.
      const frame = stack.pop();
      if (frame === undefined) return result("illegal");
      state = frame.state;
      linearized.clear(frame.call.opIndex);
      unlift(frame.call);
      entry = frame.call.next;
    }
  }
  return result("ok");
}

function describeOperation<S, I, O>(model: Model<S, I, O>, operation: Operation<I, O>): string {
  if (model.describe !== undefined) return model.describe(operation);
  const ret = operation.return === null ? "?" : String(operation.return);
  return `client ${operation.clientId} [${operation.call}, ${ret}] ${JSON.stringify(operation.input)} → ${JSON.stringify(operation.output)}`;
}
function explain<S, I, O>(
  model: Model<S, I, O>,
  part: readonly Operation<I, O>[],
  result: PartitionResult,
): string {
  const inPrefix = new Set(result.longestPrefix);
  const lines = [
    `not linearizable: ${part.length} operations, longest linearizable prefix ${result.longestPrefix.length}:`,
    ...result.longestPrefix.map((i) => `  ✓ ${describeOperation(model, part[i] as Operation<I, O>)}`),
    `operations that could not be placed after it:`,
    ...part.flatMap((operation, i) =>
      inPrefix.has(i) ? [] : [`  ✗ ${describeOperation(model, operation)}`],
    ),
  ];
  return lines.join("\n");
}

/**
 * Checks a whole history against a model. Definitely failed operations (the client knows
 * they did not take effect) must be left out by the caller; unknown ones stay in with
 * `return: null`. An unknown operation that cannot change state (a read) may be left out too,
 * which makes the search cheaper.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  options: CheckOptions = defaultCheckOptions,
): CheckResult<I, O> {
  const parts = model.partition?.(operations) ?? [operations.slice()];
  const results: PartitionResult[] = [];
  let verdict: CheckVerdict = "ok";
  for (const part of parts) {
    const result = checkPartition(model, part, options.maxStepsPerPartition);
    results.push(result);
    if (result.verdict === "illegal") {
      const explanation = explain(model, part, result);
      return { verdict: "illegal", partitions: results, failingPartition: part, explanation };
    }
    if (result.verdict === "unknown") verdict = "unknown";
  }
  const explanation =
    verdict === "ok" ? "linearizable" : "search budget exhausted in at least one part: no verdict";
  return { verdict, partitions: results, failingPartition: null, explanation };
}
