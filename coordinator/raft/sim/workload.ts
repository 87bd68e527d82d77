import type { KvInput } from "./kv-model.js";
import type { Rng } from "./rng.js";
import type { Simulator } from "./simulator.js";

export interface WorkloadOptions {
  readonly clients: number;
  /** Few keys, so that operations contend and the checker has something to decide. */
  readonly keys: readonly string[];
  readonly thinkTicksMax: number;
  /** Share of reads served by ReadIndex (the rest go through the log). */
  readonly readIndexShare: number;
  /** Share of operations sent to the node the client believes leads (the rest: any node). */
  readonly leaderAffinity: number;
}

interface ClientState {
  readonly id: number;
  seq: number;
  busy: boolean;
  nextInvokeTick: number;
  /** Last value this client saw per key: compare-and-set expects it, so some succeed. */
  readonly seen: Map<string, string | null>;
}

/**
 * Closed-loop clients: each has at most one operation outstanding, waits a random think
 * time after it ends, then sends put / get / cas / append on a few keys to a random node
 * (followers forward proposals to the leader). Values are unique per operation, so a read
 * names the write it saw.
 */
export class Workload {
  private readonly clients: ClientState[] = [];
  private stopped = false;

  constructor(
    private readonly sim: Simulator,
    private readonly rng: Rng,
    private readonly options: WorkloadOptions,
  ) {
    for (let id = 0; id < options.clients; id++) {
      this.clients.push({
        id,
        seq: 0,
        busy: false,
        nextInvokeTick: rng.int(0, options.thinkTicksMax),
        seen: new Map(),
      });
    }
    sim.onComplete((request, outcome) => {
      const client = this.clients[request.op.clientId];
      if (client === undefined) return;
      client.busy = false;
      client.nextInvokeTick = sim.now + this.rng.int(1, options.thinkTicksMax);
      if (outcome.kind === "ok" && outcome.output.kind === "get")
        client.seen.set(request.op.input.key, outcome.output.value);
    });
  }

  /** Stops issuing new operations (outstanding ones still complete). */
  stop(): void {
    this.stopped = true;
  }

  get idle(): boolean {
    return this.clients.every((client) => !client.busy);
  }

  step(): void {
    if (this.stopped) return;
    for (const client of this.clients) {
      if (client.busy || client.nextInvokeTick > this.sim.now) continue;
      this.invoke(client);
    }
  }

  private pickTarget(): string {
    const candidates = this.sim.nodes().filter((node) => !node.retired);
    const leader = this.sim.leader();
    if (leader !== null && this.rng.chance(this.options.leaderAffinity)) return leader.id;
    return this.rng.pick(candidates).id;
  }

  private pickInput(client: ClientState): KvInput {
    const key = this.rng.pick(this.options.keys);
    const value = `${client.id}.${client.seq}`;
    const roll = this.rng.float();
    if (roll < 0.35) return { kind: "get", key };
    if (roll < 0.6) return { kind: "put", key, value };
    if (roll < 0.8) return { kind: "append", key, value: `${value};` };
    const expected = client.seen.get(key) ?? null;
    return { kind: "cas", key, expected, value };
  }

  private invoke(client: ClientState): void {
    client.seq++;
    client.busy = true;
    const input = this.pickInput(client);
    const viaReadIndex = input.kind === "get" && this.rng.chance(this.options.readIndexShare);
    this.sim.invoke(client.id, client.seq, input, this.pickTarget(), viaReadIndex);
  }
}
