import type { Agent } from "node:http";
import { ProposeError, type CoordCluster } from "../../test/support/coord-cluster.js";
import type { ManagedProcess } from "../../test/support/process-harness.js";

/** Answers after which a client looks for the leader again and retries (a leader change under load). */
const RETRY_CODES: ReadonlySet<string> = new Set(["NOT_LEADER", "NO_QUORUM", "TIMEOUT", "SHUTTING_DOWN"]);

/**
 * Sends proposals to the current leader the way a client that follows leader changes
 * would: on NOT_LEADER (or a lost proposal) it finds the leader again — once for all
 * concurrent senders — and retries, at most `attemptsMax` times per proposal. The latency a
 * caller measures includes the retries. Counts the leader changes it saw.
 */
export class LeaderTracker {
  private leader: ManagedProcess;
  private refreshing: Promise<void> | undefined;
  leaderChanges = 0;

  constructor(
    private readonly cluster: CoordCluster,
    initial: ManagedProcess,
    private readonly attemptsMax = 3,
  ) {
    this.leader = initial;
  }

  async propose(key: string, value: Uint8Array, agent: Agent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const target = this.leader;
      try {
        await this.cluster.propose(target, key, value, { agent, timeoutMs: 30_000 });
        return;
      } catch (err) {
        const retry = err instanceof ProposeError && RETRY_CODES.has(err.code);
        if (!retry || attempt >= this.attemptsMax) throw err;
        await this.refresh(target);
      }
    }
  }

  /** Finds the leader again unless another sender already moved past `stale`. */
  private refresh(stale: ManagedProcess): Promise<void> {
    if (this.leader !== stale) return Promise.resolve();
    this.refreshing ??= this.cluster
      .waitForLeader(10_000)
      .then(({ value }) => {
        if (value !== this.leader) this.leaderChanges++;
        this.leader = value;
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }
}
