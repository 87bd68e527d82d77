import { afterEach, describe, expect, it } from "vitest";
import { describeDriverScenarios } from "./driver-scenarios.js";
import { TestCluster, putCommand } from "./driver-test-cluster.js";

describeDriverScenarios("memory");

describe("RaftDriver under partitions (memory network)", () => {
  let cluster: TestCluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it("an isolated leader serves no read and commits nothing (§6.4, §5.4)", async () => {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"], {
      readTimeoutMs: 600,
      proposalTimeoutMs: 600,
    });
    const c = cluster;
    const leader = await c.leader();
    await c.put(leader, "k", "before");
    c.isolate(leader);
    const read = c
      .driver(leader)
      .readIndex()
      .then(
        () => "served",
        (err: { code: string }) => err.code,
      );
    const write = c
      .driver(leader)
      .propose(putCommand("k", "during"))
      .then(
        () => "committed",
        (err: { code: string }) => err.code,
      );
    expect(await read).toBe("NO_QUORUM");
    expect(["TIMEOUT", "NO_QUORUM"]).toContain(await write);
    c.heal();
    const newLeader = await c.leader();
    const after = await c.put(newLeader, "k", "after");
    expect(after.result).toEqual({ existed: [true] });
  });

  it("answers OVERLOADED when the proposal table is full, and NOT_LEADER when forwarding is off", async () => {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"], {
      pendingProposalsMax: 4,
      forwardProposals: false,
    });
    const c = cluster;
    const leader = await c.leader();
    const burst = Array.from({ length: 10 }, (_, i) =>
      c
        .driver(leader)
        .propose(putCommand(`o${i}`, "x"))
        .then(
          () => "ok",
          (err: { code: string }) => err.code,
        ),
    );
    const outcomes = await Promise.all(burst);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(4);
    expect(outcomes.filter((o) => o === "OVERLOADED")).toHaveLength(6);
    const [follower] = await c.followers();
    const refused = await c
      .driver(follower ?? "")
      .propose(putCommand("x", "y"))
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: "NOT_LEADER", detail: { leader } });
  });

  it("a proposal made during the first election waits for the leader (no NOT_LEADER)", async () => {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"]);
    const applied = await cluster.put("n2", "early", "1");
    expect(applied.result).toEqual({ existed: [false] });
  });

  it("a single-node cluster commits alone", async () => {
    cluster = await TestCluster.start("memory", ["solo"]);
    expect(await cluster.leader()).toBe("solo");
    const applied = await cluster.put("solo", "k", "v");
    expect(await cluster.get("solo", "k")).toBe("v");
    expect(cluster.driver("solo").status().commitIndex).toBeGreaterThanOrEqual(applied.index);
  });

  it("removing the leader hands the cluster to the remaining members (dissertation §4.2.2)", async () => {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"]);
    const c = cluster;
    const leader = await c.leader();
    await c.put(leader, "k", "1");
    await c.driver(leader).removeNode(leader);
    await c.stopNode(leader);
    const next = await c.leader();
    expect(next).not.toBe(leader);
    const applied = await c.put(next, "k", "2");
    expect(applied.result).toEqual({ existed: [true] });
    expect(
      c
        .driver(next)
        .status()
        .peers.map((p) => p.id)
        .sort(),
    ).toEqual(["n1", "n2", "n3"].filter((id) => id !== leader));
  });
});
