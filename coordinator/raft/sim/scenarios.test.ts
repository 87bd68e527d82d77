import { describe, expect, it } from "vitest";
import { createRawNode } from "../core/raft-node.js";
import { ScriptRunner } from "./script.js";

const echo = process.env.TRACE === "1" ? (line: string): void => console.log(line) : undefined;
const script = (text: string): ScriptRunner =>
  new ScriptRunner(echo === undefined ? { createRawNode } : { createRawNode, echo }).run(text);

describe("§5.4.2 Figure 8: a leader never commits an entry of an earlier term by counting replicas", () => {
  it("(a)–(d): an old-term entry on a majority is not committed and may be overwritten", () => {
    script(`
      cluster n1 n2 n3 n4 n5 prevote=false checkquorum=false max-msg-bytes=1
      campaign n1
      stabilize
      expect leader n1
      expect commit n1 1
      # (a) n1 (term 1) appends x=a at index 2 and replicates it to n2 only
      put n1 x a as=w1
      deliver from=n1 to=n2 type=append
      drop from=n1
      drop to=n1
      expect log n2 index=2 term=1
      expect commit n1 1
      # (b) n1 crashes; n5 wins term 2 with votes of n3, n4 and writes its own entries at 2 and 3
      crash n1
      campaign n5
      stabilize to=n3,n4,n5 type=vote,voteResp
      drop to=n2
      expect leader n5
      expect term n5 2
      put n5 x b as=w2
      drop from=n5
      expect log n5 index=2 term=2
      expect log n5 index=3 term=2
      # (c) n5 crashes; n1 restarts and wins term 3 (n2, n3, n4); it replicates its term-1
      # entry at 2 to n3 — now on a majority — but not its term-3 no-op
      crash n5
      restart n1
      campaign n1
      stabilize type=vote,voteResp
      # term 2 is taken: n3 and n4 voted for n5 in it (Figure 2: one vote per term)
      expect leader none
      campaign n1
      stabilize type=vote,voteResp
      expect leader n1
      expect term n1 3
      drop from=n1 to=n2,n4
      # n1's first append to n3 carries the no-op at 3 after (2, term 1); n3 lacks 2 and rejects
      deliver from=n1 to=n3 type=append
      stabilize without-entry-term=3
      drop with-entry-term=3
      expect log n3 index=2 term=1
      expect log n3 index=3 term=none
      expect log n4 index=2 term=none
      # the entry of term 1 is on n1, n2, n3, a majority, but must not count as committed in term 3
      expect commit n1 1
      # (d) n1 crashes; n5 (last term 2 > 1) wins term 4 and overwrites index 2 everywhere
      crash n1
      restart n5
      campaign n5
      stabilize type=vote,voteResp
      expect leader none
      campaign n5
      stabilize
      expect leader n5
      expect term n5 4
      expect log n2 index=2 term=2
      expect log n3 index=2 term=2
      expect log n4 index=2 term=2
      expect commit n5 >= 3
      expect value n5 x b
      restart n1
      run ticks=5
      expect log n1 index=2 term=2
      expect converged
      expect linearizable
    `);
  });

  it("(e): once the leader's own-term entry is on a majority, the old entry is committed and survives", () => {
    script(`
      cluster n1 n2 n3 n4 n5 prevote=false checkquorum=false
      campaign n1
      stabilize
      put n1 x a as=w1
      deliver from=n1 to=n2 type=append
      drop from=n1
      drop to=n1
      crash n1
      campaign n5
      stabilize to=n3,n4,n5 type=vote,voteResp
      drop to=n2
      put n5 x b as=w2
      drop from=n5
      crash n5
      restart n1
      campaign n1
      stabilize type=vote,voteResp
      campaign n1
      stabilize type=vote,voteResp
      expect leader n1
      # this time n1's term-3 no-op reaches n2 and n3 too: it commits, and with it x=a at 2
      stabilize
      expect commit n1 3
      expect value n1 x a
      crash n1
      restart n5
      campaign n5
      stabilize
      campaign n5
      stabilize
      # n5 (last term 2) cannot win against logs ending in term 3
      expect leader none
      expect log n2 index=2 term=1
      restart n1
      run ticks=60
      expect converged
      expect value leader x a
      expect linearizable
    `);
  });
});

describe("§5.2 election safety with split votes", () => {
  it("three simultaneous candidates split the votes: no leader in that term, then exactly one", () => {
    const runner = script(`
      cluster n1 n2 n3 n4 n5 prevote=false
      campaign n1
      campaign n2
      campaign n3
      # each candidate voted for itself; n4 votes for n1 and n5 for n2: 2, 2 and 1 votes of 5
      deliver from=n1 to=n4 type=vote
      deliver from=n2 to=n5 type=vote
      stabilize
      expect leader none
      expect term n1 1
      expect term n4 1
      expect vote n4 n1
      expect vote n5 n2
      # randomized election timeouts (§5.2) break the tie in a later term
      run ticks=60
      expect term leader > 1
      expect converged
    `);
    // The election-safety checker saw every leader of every term; check it saw at most one.
    expect(runner.sim.checkers.leaderOf(1)).toBeUndefined();
  });

  it("two candidates in a 4-node cluster tie 2–2; no term ever has two leaders", () => {
    script(`
      cluster n1 n2 n3 n4 prevote=false
      campaign n1
      campaign n2
      deliver from=n1 to=n3 type=vote
      deliver from=n2 to=n4 type=vote
      stabilize
      expect leader none
      run ticks=80
      put leader k v as=w
      run ticks=5
      expect op w ok
      expect converged
    `);
  });
});

describe("§5.1 and Figure 2 'persistent state': a vote survives crashes", () => {
  it("a vote persisted before a crash is kept: no second vote in the same term", () => {
    script(`
      cluster n1 n2 n3 prevote=false
      campaign n1
      campaign n2
      # n3 grants n1 its vote, persists it and crashes before the grant leaves
      crash n3 at=afterPersist when=vote-granted
      deliver from=n1 to=n3 type=vote
      expect down n3
      expect vote n3 n1
      restart n3
      deliver from=n2 to=n3 type=vote
      stabilize
      expect leader none
      expect vote n3 n1
      run ticks=60
      expect converged
    `);
  });

  it("a vote sent just before a crash binds after the restart: one leader in the term", () => {
    script(`
      cluster n1 n2 n3 prevote=false
      campaign n1
      campaign n2
      crash n3 at=afterSend when=vote-granted
      deliver from=n1 to=n3 type=vote
      restart n3
      deliver from=n2 to=n3 type=vote
      stabilize
      expect leader n1
      expect term n1 1
      expect role n2 follower
      run ticks=5
      expect converged
    `);
  });

  it("a vote lost before it was persisted was never sent, so voting again is safe", () => {
    script(`
      cluster n1 n2 n3 prevote=false
      campaign n1
      campaign n2
      crash n3 at=beforePersist when=vote-granted
      deliver from=n1 to=n3 type=vote
      expect down n3
      expect vote n3 none
      restart n3
      deliver from=n2 to=n3 type=vote
      drop from=n1
      stabilize
      expect leader n2
      expect term n2 1
      run ticks=5
      expect converged
    `);
  });

  it("the same schedule elects two leaders in one term if the vote is not persisted", async () => {
    const { mutateFactory } = await import("./mutations.js");
    const broken = new ScriptRunner({ createRawNode: mutateFactory(createRawNode, "forgetVote") });
    expect(() =>
      broken.run(`
        cluster n1 n2 n3 prevote=false
        campaign n1
        campaign n2
        crash n3 at=afterSend when=vote-granted
        deliver from=n1 to=n3 type=vote
        restart n3
        deliver from=n2 to=n3 type=vote
        stabilize
      `),
    ).toThrow(/election safety \(§5\.2\): term 1 has two leaders/);
  });
});

describe("§5.4 acknowledged entries survive crashes", () => {
  it("a write acknowledged to the client survives a power loss of every node", () => {
    script(`
      cluster n1 n2 n3
      campaign n1
      stabilize
      put n1 x 1 as=w1
      stabilize
      expect op w1 ok
      # power loss everywhere: only what was fsynced survives
      crash n1 power-loss=0
      crash n2 power-loss=0
      crash n3 power-loss=0
      restart n1
      restart n2
      restart n3
      run ticks=60
      get leader x as=r1
      read leader x as=r2
      run ticks=5
      expect op r1 ok value=1
      expect op r2 ok value=1
      expect converged
      expect linearizable
    `);
  });

  it("a write acknowledged by a leader that crashes right after survives on the new leader", () => {
    script(`
      cluster n1 n2 n3 n4 n5
      campaign n1
      stabilize
      put n1 x 1 as=w1
      # replicate to n2 and n3 only: a majority with n1
      deliver from=n1 to=n2,n3 type=append
      stabilize to=n1
      expect commit n1 2
      expect op w1 ok
      crash n1 power-loss=0
      # n4 and n5 lack the entry: only n2 or n3 can win (§5.4.1 election restriction)
      run ticks=60
      expect log leader index=2 term=1
      get leader x as=r1
      run ticks=5
      expect op r1 ok value=1
      restart n1
      run ticks=20
      expect converged
      expect linearizable
    `);
  });
});

describe("§6.4 and §8: a partitioned old leader serves no stale read", () => {
  const partitionedLeader = `
    cluster n1 n2 n3 n4 n5
    campaign n1
    stabilize
    put n1 x 1 as=w1
    stabilize
    expect op w1 ok
    partition n1,n2 | n3,n4,n5
    # the majority side elects a new leader and writes x=2; n1 is not ticked, so it still
    # believes it leads term 1
    run ticks=60 only=n3,n4,n5
    expect role n1 leader
    put leader x 2 as=w2
    run ticks=3 only=n3,n4,n5
    expect op w2 ok
    # reads at the deposed leader start after w2 completed: x=1 would be stale
    read n1 x as=r1
    get n1 x as=r2
    run ticks=60
    expect op r1 not-ok
    expect op r2 not-ok
    expect linearizable
  `;

  it("ReadIndex at a deposed leader cannot gather a quorum and never answers", () => {
    script(`
      ${partitionedLeader}
      heal-all
      run ticks=30
      read n1 x as=r3
      run ticks=5
      expect op r3 ok value=2
      expect converged
    `);
  });

  it("a leader answering reads without confirming leadership returns the stale value", async () => {
    const { mutateFactory } = await import("./mutations.js");
    const broken = new ScriptRunner({ createRawNode: mutateFactory(createRawNode, "localReads") });
    expect(() => broken.run(partitionedLeader)).toThrow(/operation r1 is ok, expected not-ok/);
  });
});

describe("§5.3 and Figure 7: conflicting and missing follower logs are repaired", () => {
  it("a follower with extra entries of an old term and one missing everything converge on the leader's log", () => {
    script(`
      cluster n1 n2 n3 n4 n5 prevote=false checkquorum=false max-msg-bytes=64 inflight=2
      campaign n1
      stabilize
      crash n5
      # n1 (term 1) appends ten entries that reach nobody (Figure 7 (d)/(f): extra entries)
      isolate n1
      put n1 k old repeat=10
      # n2 wins term 2 with n3, n4 and commits ten entries of its own; n5 misses all (Figure 7 (a)/(b))
      campaign n2
      stabilize
      expect leader n2
      put n2 k new repeat=10 as=w
      stabilize
      expect op w.10 ok
      expect last-index n1 11
      expect log n1 index=5 term=1
      expect log n2 index=5 term=2
      # n1 rejoins and n5 restarts: the leader backs up to the last agreeing index and overwrites
      heal-all
      restart n5
      run ticks=20
      expect leader n2
      expect log n1 index=5 term=2
      expect log n1 index=11 term=2
      expect log n5 index=11 term=2
      expect converged
      expect value n1 k new
      expect linearizable
    `);
  });

  it("a stale leader's uncommitted suffix is replaced when it learns the new term", () => {
    script(`
      cluster n1 n2 n3 prevote=false checkquorum=false
      campaign n1
      stabilize
      put n1 x 1 as=w1
      stabilize
      isolate n1
      put n1 x lost as=w2
      campaign n2
      stabilize
      put n2 x 2 as=w3
      put n2 x 3 as=w4
      stabilize
      expect log n1 index=3 term=1
      heal-all
      run ticks=10
      expect log n1 index=3 term=2
      expect value n1 x 3
      expect converged
      run ticks=60
      expect op w2 unknown
      expect linearizable
    `);
  });
});

describe("§7 InstallSnapshot for a follower behind the leader's compaction point", () => {
  const farBehind = `
    cluster n1 n2 n3 snapshot-every=5 bootstrap=true
    campaign n1
    stabilize
    crash n3
    put n1 k v repeat=20 as=w
    stabilize
    expect op w.20 ok
    # n1 compacted its log: the entries n3 misses are gone
    expect snapshot n1 >= 15
    restart n3
  `;

  it("a far-behind follower catches up from a snapshot", () => {
    script(`
      ${farBehind}
      run ticks=10
      expect snapshot n3 >= 15
      expect converged
      expect value n3 k v
      expect linearizable
    `);
  });

  for (const point of ["beforePersist", "afterPersist", "afterSend", "afterRestore", "afterApply"]) {
    it(`a crash ${point} of the Ready carrying the snapshot loses nothing`, () => {
      script(`
        ${farBehind}
        crash n3 at=${point} when=snapshot
        run ticks=10
        expect down n3
        restart n3
        run ticks=30
        expect converged
        expect value n3 k v
        put leader k w as=after
        run ticks=3
        expect op after ok
        expect converged
      `);
    });
  }

  it("a snapshot lost in flight is sent again", () => {
    script(`
      ${farBehind}
      tick all 2
      stabilize not-type=snapshot
      drop type=snapshot at-least=1
      run ticks=30
      expect snapshot n3 >= 15
      expect converged
    `);
  });
});

describe("dissertation §4: membership changes one server at a time", () => {
  it("add a learner, promote it once caught up, then lose the old majority's spare", () => {
    script(`
      cluster n1 n2 n3 snapshot-every=10 bootstrap=true
      campaign n1
      stabilize
      put n1 k v repeat=15
      stabilize
      add-learner n1 n4
      # one change at a time: a second one waits until the first is applied
      add-learner n1 n5 expect=confChangePending
      run ticks=10
      expect learners n1 n4
      expect voters n1 n1,n2,n3
      expect role n4 learner
      expect applied n4 == leader
      promote n1 n4
      run ticks=5
      expect voters n1 n1,n2,n3,n4
      expect voters n4 n1,n2,n3,n4
      # four voters need three: with n2 and n3 down, nothing commits
      crash n2
      crash n3
      put n1 k lost as=w1
      run ticks=20 only=n1,n4
      expect op w1 not-ok
      restart n2
      run ticks=20
      put leader k back as=w2
      run ticks=5
      expect op w2 ok
      restart n3
      run ticks=10
      expect converged
      expect linearizable
    `);
  });

  it("removing the leader: it steps down once the change commits, and the rest elect a leader", () => {
    script(`
      cluster n1 n2 n3 n4 bootstrap=true
      campaign n1
      stabilize
      put n1 k v
      stabilize
      remove n1 n1
      run ticks=40
      expect voters leader n2,n3,n4
      put leader k w as=w
      run ticks=5
      expect op w ok
      expect converged
      expect linearizable
    `);
  });

  it("replacing a node: add learner, promote, remove the old one", () => {
    script(`
      cluster n1 n2 n3 bootstrap=true
      campaign n1
      stabilize
      put n1 k v repeat=5
      stabilize
      add-learner n1 n4
      run ticks=10
      promote n1 n4
      run ticks=5
      remove n1 n3
      run ticks=5
      expect voters n1 n1,n2,n4
      crash n3
      put n1 k after as=w
      run ticks=5
      expect op w ok
      # n2 down: n1 and n4 are two of three voters
      crash n2
      put n1 k more as=w2
      run ticks=5
      expect op w2 ok
      restart n2
      run ticks=10
      expect converged
      expect linearizable
    `);
  });
});

describe("dissertation §9.6: pre-vote keeps a rejoining node from disrupting the leader", () => {
  it("with pre-vote, an isolated node's term does not grow and the leader keeps its term", () => {
    script(`
      cluster n1 n2 n3 prevote=true checkquorum=false
      campaign n1
      stabilize
      isolate n3
      run ticks=100
      expect term n3 1
      expect role n3 preCandidate
      heal-all
      run ticks=20
      expect leader n1
      expect term n1 1
      expect converged
    `);
  });

  it("without pre-vote, the same rejoin forces an election (the disruption pre-vote prevents)", () => {
    script(`
      cluster n1 n2 n3 prevote=false checkquorum=false
      campaign n1
      stabilize
      isolate n3
      run ticks=100
      expect term n3 > 5
      heal-all
      run ticks=60
      expect term leader > 5
      expect converged
    `);
  });
});

describe("dissertation §4.2.3: a removed server cannot depose the leader", () => {
  it("a removed node that never learns of its removal campaigns in vain", () => {
    script(`
      cluster n1 n2 n3 n4 prevote=false
      campaign n1
      stabilize
      isolate n4
      remove n1 n4
      run ticks=5
      expect voters n1 n1,n2,n3
      heal-all
      # n4 still believes it is a voter; it times out and asks for votes with ever higher terms
      run ticks=100
      expect term n4 > 3
      expect leader n1
      expect term n1 1
      put n1 k v as=w
      run ticks=3
      expect op w ok
      expect converged
    `);
  });
});

describe("dissertation §6.4.1: lease reads at a partitioned leader stop before a new leader can exist", () => {
  it("reads at the old leader every tick of a partition, writes on the new side: linearizable", () => {
    const runner = script(`
      cluster n1 n2 n3 n4 n5 lease=true
      campaign n1
      stabilize
      put n1 x 1 as=w1
      run ticks=3
      expect op w1 ok
      read n1 x as=warm
      run ticks=1
      expect op warm ok value=1
      partition n1,n2 | n3,n4,n5
    `);
    let wrote = false;
    for (let tick = 0; tick < 40; tick++) {
      runner.run(`read n1 x as=r${tick}\nrun ticks=1`);
      const leader = runner.sim.leader();
      if (!wrote && leader !== null && leader.id !== "n1" && leader.id !== "n2") {
        runner.run(`put leader x 2 as=w2`);
        wrote = true;
      }
    }
    runner.run(`
      run ticks=5
      expect op w2 ok
      expect linearizable
    `);
    // The old leader served some reads from its lease before it expired, and none after w2.
    const served = Array.from({ length: 40 }, (_, tick) => runner.op(`r${tick}`)).filter(
      (op) => op.outcome?.kind === "ok",
    );
    expect(served.length).toBeGreaterThan(0);
  });
});

describe("dissertation §3.10: leadership transfer", () => {
  it("the target catches up first, then times out at once and wins; proposals wait meanwhile", () => {
    script(`
      cluster n1 n2 n3
      campaign n1
      stabilize
      cut n1 n3
      put n1 k v repeat=5
      run ticks=3
      expect last-index n3 1
      heal n1 n3
      transfer n1 n3
      put n1 k during as=w1
      run ticks=10
      expect leader n3
      expect term n3 2
      expect op w1 not-ok
      put leader k after as=w2
      run ticks=3
      expect op w2 ok
      expect converged
      expect linearizable
    `);
  });
});
