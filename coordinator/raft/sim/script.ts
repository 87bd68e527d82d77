import type { Message, NodeId, Ready, Role } from "../core/types.js";
import type { HistoryEntry } from "./history.js";
import { kvModel, type KvInput } from "./kv-model.js";
import { checkOperations } from "./linearizability.js";
import { crashPoints, type CrashPoint, type RawNodeFactory, type SimNode } from "./sim-node.js";
import { lastIndexOf, termAt } from "./sim-storage.js";
import { perfectNetwork } from "./sim-network.js";
import { simCoreConfig, Simulator } from "./simulator.js";

/**
 * Scripted scenarios on the simulator, read like etcd's datadriven tests: one command per
 * line, `key=value` options, `#` comments. The network is manual: messages wait in flight
 * until `deliver`, `drop` or `stabilize` moves them; time passes only with `tick`/`run`.
 * Every safety checker runs at every step, as in random runs.
 *
 * Commands (node arguments accept `leader`, the live leader of the highest term):
 *   cluster n1 n2 n3 [prevote= checkquorum= lease= election= heartbeat= max-msg-bytes=
 *                     inflight= snapshot-every= timeout= seed=]
 *   campaign N | tick N|all [count] | run ticks=K [only=N,M]  (tick, then stabilize, K times)
 *   deliver|drop|stabilize [from=N,M to=N,M type=T,U not-type=T with-entry-term=K without-entry-term=K]
 *                          (deliver and drop also take count=K, at-most, and at-least=K)
 *   put|append N key value | cas N key expected value | get N key | read N key  [as=name repeat=K]
 *   crash N [at=<crash point> when=vote-granted|snapshot|entries power-loss=K] | restart N
 *   cut A B | cut-one-way A B | heal A B | heal-all | isolate N | partition A,B | C,D,E
 *   transfer N TO | add-learner N NEW | promote N ID | remove N ID  [expect=<propose result>]
 *   expect leader N|none | expect role N R | expect term|commit|applied|last-index|snapshot N [op] K
 *   expect vote N V|none | expect log N index=K term=T|none | expect op NAME ok|fail|unknown|pending [value=V]
 *   expect value N key V|none | expect voters|learners N A,B | expect down|up N
 *   expect converged | expect linearizable
 */
export interface ScriptOptions {
  readonly createRawNode: RawNodeFactory;
  readonly echo?: (line: string) => void;
}

export class ScriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScriptError";
  }
}

type Args = { positional: string[]; options: Map<string, string> };

function parseLine(line: string): Args {
  const positional: string[] = [];
  const options = new Map<string, string>();
  for (const token of line.split(/\s+/).filter((t) => t.length > 0)) {
    const eq = token.indexOf("=");
    if (eq > 0 && !/^(==|!=|<=|>=)$/.test(token)) options.set(token.slice(0, eq), token.slice(eq + 1));
    else positional.push(token);
  }
  return { positional, options };
}

function list(value: string | undefined): string[] | null {
  return value === undefined ? null : value.split(",").filter((x) => x.length > 0);
}

function compare(actual: number, op: string, expected: number): boolean {
  switch (op) {
    case "==":
      return actual === expected;
    case "!=":
      return actual !== expected;
    case "<":
      return actual < expected;
    case "<=":
      return actual <= expected;
    case ">":
      return actual > expected;
    case ">=":
      return actual >= expected;
    default:
      throw new ScriptError(`unknown comparison ${op}`);
  }
}

function messageFilter(options: Map<string, string>): (m: Message) => boolean {
  const from = list(options.get("from"));
  const to = list(options.get("to"));
  const types = list(options.get("type"));
  const notTypes = list(options.get("not-type"));
  const withTerm = options.get("with-entry-term");
  const withoutTerm = options.get("without-entry-term");
  return (m) =>
    (from === null || from.includes(m.from)) &&
    (to === null || to.includes(m.to)) &&
    (types === null || types.includes(m.type)) &&
    (notTypes === null || !notTypes.includes(m.type)) &&
    (withTerm === undefined || m.entries.some((e) => e.term === Number(withTerm))) &&
    (withoutTerm === undefined || !m.entries.some((e) => e.term === Number(withoutTerm)));
}

const crashConditions: Readonly<Record<string, (ready: Ready) => boolean>> = {
  "vote-granted": (ready) => ready.messages.some((m) => m.type === "voteResp" && !m.reject),
  snapshot: (ready) => ready.snapshot !== null,
  entries: (ready) => ready.entries.length > 0,
};

/** Runs scenario scripts on one simulator; `sim` is exposed for assertions in code. */
export class ScriptRunner {
  private simulator: Simulator | null = null;
  private readonly ops = new Map<string, HistoryEntry>();
  private nextClientId = 1;
  private lineNumber = 0;

  constructor(private readonly options: ScriptOptions) {}

  get sim(): Simulator {
    if (this.simulator === null) throw new ScriptError("no cluster yet: start the script with `cluster`");
    return this.simulator;
  }

  op(name: string): HistoryEntry {
    const op = this.ops.get(name);
    if (op === undefined) throw new ScriptError(`no operation named ${name}`);
    return op;
  }

  /** Runs the lines of `script`; on failure, throws with the line, the seed and the trace tail. */
  run(script: string): this {
    for (const [i, raw] of script.split("\n").entries()) {
      const line = raw.replace(/#.*$/, "").trim();
      if (line.length === 0) continue;
      this.lineNumber = i + 1;
      try {
        this.execute(line);
      } catch (error) {
        const where = `script line ${this.lineNumber}: \`${line}\``;
        const detail = this.simulator === null ? String(error) : this.simulator.describeFailure(error, 40);
        throw new ScriptError(`${where}\n${detail}`);
      }
    }
    return this;
  }

  private node(name: string | undefined): SimNode {
    if (name === undefined) throw new ScriptError("missing node argument");
    if (name === "leader") {
      const leader = this.sim.leader();
      if (leader === null) throw new ScriptError("no live leader");
      return leader;
    }
    return this.sim.node(name);
  }

  private execute(line: string): void {
    const { positional, options } = parseLine(line);
    const [first, ...args] = positional;
    const command = first ?? "";
    this.options.echo?.(`> ${line}`);
    switch (command) {
      case "cluster":
        return this.cluster(args, options);
      case "campaign":
        return this.node(args[0]).act((raw) => raw.campaign());
      case "tick":
        return this.tick(args);
      case "run":
        return this.runTicks(options);
      case "deliver":
        return this.limited(options, (filter) => this.sim.deliverWhere(filter));
      case "drop":
        return this.limited(options, (filter) => this.sim.dropWhere(filter));
      case "stabilize":
        return this.stabilize(messageFilter(options));
      case "put":
      case "append":
      case "cas":
      case "get":
      case "read":
        return this.clientOp(command, args, options);
      case "crash":
        return this.crash(args, options);
      case "restart":
        return this.sim.restart(this.node(args[0]).id);
      case "cut":
      case "cut-one-way":
      case "heal":
      case "heal-all":
      case "isolate":
      case "partition":
        return this.network(command, args);
      case "transfer":
        return this.node(args[0]).act((raw) => raw.transferLeader(this.node(args[1]).id));
      case "add-learner":
      case "promote":
      case "remove":
        return this.confChange(command, args, options);
      case "expect":
        return this.expect(args, options);
      default:
        throw new ScriptError(`unknown command ${command}`);
    }
  }

  private cluster(ids: string[], options: Map<string, string>): void {
    const flag = (name: string, fallback: boolean): boolean =>
      (options.get(name) ?? String(fallback)) === "true";
    const number = (name: string, fallback: number): number => Number(options.get(name) ?? fallback);
    this.simulator = new Simulator({
      seed: number("seed", 1),
      nodeIds: ids,
      core: {
        ...simCoreConfig,
        preVote: flag("prevote", true),
        checkQuorum: flag("checkquorum", true),
        leaseRead: flag("lease", false),
        electionTicks: number("election", simCoreConfig.electionTicks),
        heartbeatTicks: number("heartbeat", simCoreConfig.heartbeatTicks),
        maxMsgBytes: number("max-msg-bytes", simCoreConfig.maxMsgBytes),
        maxInflightMsgs: number("inflight", simCoreConfig.maxInflightMsgs),
      },
      snapshotEveryEntries: number("snapshot-every", 1_000_000),
      network: { ...perfectNetwork, delayTicksMin: 0, delayTicksMax: 0 },
      manualNetwork: true,
      bootstrap: flag("bootstrap", false),
      requestTimeoutTicks: number("timeout", 50),
      traceCapacity: 400,
      echo: this.options.echo ?? null,
      createRawNode: this.options.createRawNode,
    });
  }

  private tick(args: string[]): void {
    const count = Number(args[1] ?? 1);
    for (let i = 0; i < count; i++) {
      if (args[0] === "all") this.sim.tick();
      else this.node(args[0]).tick();
    }
  }

  /** `run ticks=K`: K rounds of (tick every live node, or those in `only`; then stabilize). */
  private runTicks(options: Map<string, string>): void {
    const ticks = Number(options.get("ticks") ?? 1);
    const only = list(options.get("only"));
    for (let i = 0; i < ticks; i++) {
      const skip =
        only === null
          ? new Set<NodeId>()
          : new Set(
              this.sim
                .nodes()
                .map((n) => n.id)
                .filter((id) => !only.includes(id)),
            );
      this.sim.tick(skip);
      this.stabilize(() => true);
    }
  }

  private limited(options: Map<string, string>, act: (filter: (m: Message) => boolean) => number): void {
    const filter = messageFilter(options);
    const countMax = options.has("count") ? Number(options.get("count")) : Number.POSITIVE_INFINITY;
    let taken = 0;
    const once = (m: Message): boolean => (taken < countMax && filter(m) ? (taken++, true) : false);
    act(once);
    const atLeast = Number(options.get("at-least") ?? 0);
    if (taken < atLeast) throw new ScriptError(`${taken} messages matched, expected at least ${atLeast}`);
  }

  private stabilize(filter: (m: Message) => boolean): void {
    for (let round = 0; this.sim.network.pending().some((item) => filter(item.message)); round++) {
      if (round > 10_000) throw new ScriptError("stabilize: messages keep coming");
      this.sim.deliverWhere(filter);
    }
  }

  private clientOp(command: string, args: string[], options: Map<string, string>): void {
    const [nodeName, key, a, b] = args;
    if (key === undefined) throw new ScriptError(`${command}: missing key`);
    const node = this.node(nodeName);
    const input: KvInput =
      command === "put"
        ? { kind: "put", key, value: a ?? "" }
        : command === "append"
          ? { kind: "append", key, value: a ?? "" }
          : command === "cas"
            ? { kind: "cas", key, expected: a === "none" ? null : (a ?? null), value: b ?? "" }
            : { kind: "get", key };
    const repeat = Number(options.get("repeat") ?? 1);
    for (let i = 0; i < repeat; i++) {
      const op = this.sim.invoke(this.nextClientId++, 1, input, node.id, command === "read");
      const name = options.get("as");
      if (name !== undefined) this.ops.set(repeat === 1 ? name : `${name}.${i + 1}`, op);
    }
  }

  private crash(args: string[], options: Map<string, string>): void {
    const node = this.node(args[0]);
    const surviving = options.has("power-loss")
      ? Number(options.get("power-loss"))
      : Number.POSITIVE_INFINITY;
    const at = options.get("at");
    if (at === undefined) {
      this.sim.crash(node.id, surviving);
      return;
    }
    if (!crashPoints.includes(at as CrashPoint)) throw new ScriptError(`unknown crash point ${at}`);
    const when = options.get("when");
    const condition = when === undefined ? null : crashConditions[when];
    if (condition === undefined) throw new ScriptError(`unknown crash condition ${when}`);
    this.sim.armCrash(node.id, at as CrashPoint, surviving, condition);
  }

  private network(command: string, args: string[]): void {
    const net = this.sim.network;
    const [a, b] = [args[0] ?? "", args[1] ?? ""];
    switch (command ?? "") {
      case "cut":
        return net.cut(a, b);
      case "cut-one-way":
        return net.cutOneWay(a, b);
      case "heal":
        return net.heal(a, b);
      case "heal-all":
        return net.healAll();
      case "isolate":
        return net.partition(
          [a],
          this.sim
            .nodes()
            .map((n) => n.id)
            .filter((id) => id !== a),
        );
      case "partition": {
        const bar = args.indexOf("|");
        if (bar < 0) throw new ScriptError("partition A,B | C,D");
        net.partition(
          args.slice(0, bar).join(",").split(","),
          args
            .slice(bar + 1)
            .join(",")
            .split(","),
        );
        return;
      }
    }
  }

  private confChange(command: string, args: string[], options: Map<string, string>): void {
    const node = this.node(args[0]);
    const target = args[1];
    if (target === undefined) throw new ScriptError(`${command}: missing node id`);
    const type = command === "add-learner" ? "addLearner" : command === "promote" ? "promote" : "remove";
    let result: string = "down";
    node.act((raw) => {
      const r = raw.proposeConfChange({ type, nodeId: target, context: `sim://${target}` });
      result = r.ok ? "ok" : r.reason;
    });
    const expected = options.get("expect") ?? "ok";
    if (result !== expected)
      throw new ScriptError(`${command} ${target} on ${node.id}: ${result}, expected ${expected}`);
    if (type === "addLearner" && result === "ok") this.sim.addNode(target).start();
  }

  private expect(args: string[], options: Map<string, string>): void {
    const [first, ...rest] = args;
    const what = first ?? "";
    switch (what) {
      case "leader":
        return this.expectLeader(rest[0]);
      case "role":
        return this.expectRole(rest);
      case "term":
      case "commit":
      case "applied":
      case "last-index":
      case "snapshot":
        return this.expectNumber(what, rest);
      case "vote":
        return this.expectVote(rest);
      case "log":
        return this.expectLog(rest[0], options);
      case "op":
        return this.expectOp(rest, options);
      case "value":
        return this.expectValue(rest);
      case "voters":
      case "learners":
        return this.expectMembers(what, rest);
      case "down":
      case "up":
        return this.expectUp(what, rest[0]);
      case "converged":
        return this.expectConverged();
      case "linearizable":
        return this.expectLinearizable();
      default:
        throw new ScriptError(`unknown expectation ${what}`);
    }
  }

  private fail(message: string): never {
    throw new ScriptError(`expectation failed: ${message}`);
  }

  private status(node: SimNode): ReturnType<NonNullable<SimNode["raw"]>["status"]> {
    const status = node.raw?.status();
    if (status === undefined) this.fail(`${node.id} is down`);
    return status;
  }

  private expectLeader(name: string | undefined): void {
    const leader = this.sim.leader();
    if (name === "none") {
      if (leader !== null)
        this.fail(`${leader.id} leads term ${this.status(leader).term}, expected no leader`);
      return;
    }
    if (leader?.id !== name) this.fail(`leader is ${leader?.id ?? "none"}, expected ${name ?? "?"}`);
  }

  private expectRole(rest: string[]): void {
    const node = this.node(rest[0]);
    const role = this.status(node).role;
    if (role !== (rest[1] as Role)) this.fail(`${node.id} is ${role}, expected ${rest[1] ?? "?"}`);
  }

  private expectNumber(what: string, rest: string[]): void {
    const node = this.node(rest[0]);
    const [op, value] = rest.length >= 3 ? [rest[1] ?? "==", rest[2]] : ["==", rest[1]];
    let actual: number;
    if (what === "snapshot") actual = node.storage.durableImage.snapshot?.meta.index ?? 0;
    else if (what === "last-index") actual = lastIndexOf(node.storage.current);
    else if (what === "applied") actual = node.applied;
    else actual = this.status(node)[what === "term" ? "term" : "commit"];
    const expected = value === "leader" ? this.status(this.node("leader")).commit : Number(value);
    if (!compare(actual, op, expected))
      this.fail(`${what} of ${node.id} is ${actual}, expected ${op} ${expected}`);
  }

  private expectVote(rest: string[]): void {
    const node = this.node(rest[0]);
    const vote = node.storage.durableImage.hardState.vote ?? "none";
    if (vote !== rest[1]) this.fail(`durable vote of ${node.id} is ${vote}, expected ${rest[1] ?? "?"}`);
  }

  private expectLog(name: string | undefined, options: Map<string, string>): void {
    const node = this.node(name);
    const index = Number(options.get("index"));
    const term = termAt(node.storage.current, index);
    const expected = options.get("term");
    if (String(term ?? "none") !== expected) {
      this.fail(`${node.id}'s log has term ${term ?? "none"} at index ${index}, expected ${expected ?? "?"}`);
    }
  }

  private expectOp(rest: string[], options: Map<string, string>): void {
    const op = this.op(rest[0] ?? "");
    const kind = op.outcome?.kind ?? "pending";
    const expected = rest[1];
    const matches = expected === "not-ok" ? kind !== "ok" : kind === expected;
    if (!matches) this.fail(`operation ${rest[0] ?? ""} is ${kind}, expected ${expected ?? "?"}`);
    const value = options.get("value");
    if (value === undefined) return;
    const output = op.outcome?.kind === "ok" ? op.outcome.output : null;
    const actual =
      output?.kind === "get" ? (output.value ?? "none") : output?.kind === "cas" ? String(output.ok) : "?";
    if (actual !== value) this.fail(`operation ${rest[0] ?? ""} returned ${actual}, expected ${value}`);
  }

  private expectValue(rest: string[]): void {
    const node = this.node(rest[0]);
    const actual = node.stateMachine.read(rest[1] ?? "") ?? "none";
    if (actual !== rest[2])
      this.fail(`${node.id} has ${rest[1] ?? ""}=${actual}, expected ${rest[2] ?? "?"}`);
  }

  private expectMembers(what: "voters" | "learners", rest: string[]): void {
    const node = this.node(rest[0]);
    const actual = [...this.status(node).confState[what]].sort().join(",");
    const expected = (rest[1] ?? "")
      .split(",")
      .filter((x) => x.length > 0)
      .sort()
      .join(",");
    if (actual !== expected) this.fail(`${what} on ${node.id} are [${actual}], expected [${expected}]`);
  }

  private expectUp(what: "down" | "up", name: string | undefined): void {
    const node = this.node(name);
    if (node.alive !== (what === "up"))
      this.fail(`${node.id} is ${node.alive ? "up" : "down"}, expected ${what}`);
  }

  /** Every member of the leader's configuration is up and has applied the leader's commit index. */
  private expectConverged(): void {
    const leader = this.node("leader");
    const status = this.status(leader);
    for (const id of [...status.confState.voters, ...status.confState.learners]) {
      const node = this.sim.node(id);
      if (!node.alive || node.applied !== status.commit) {
        this.fail(
          `${id} ${node.alive ? `applied ${node.applied}` : "is down"}; leader ${leader.id} committed ${status.commit}`,
        );
      }
      if (node.stateMachine.digest() !== leader.stateMachine.digest())
        this.fail(`${id}'s state differs from the leader's`);
    }
  }

  private expectLinearizable(): void {
    const result = checkOperations(kvModel, this.sim.history.operations(this.sim.appliedCommands));
    if (result.verdict !== "ok") this.fail(result.explanation);
  }
}
