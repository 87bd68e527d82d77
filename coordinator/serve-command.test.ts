import { afterEach, describe, expect, it } from "vitest";
import { createCoordProgram, usageExitCode, type ServeOptions } from "./serve-command.js";

/** `minikv-coord serve` flags (DESIGN.md §3; issue 3 §4): every flag, its env twin, and usage errors. */
describe("minikv-coord serve flags", () => {
  const savedEnv = { ...process.env };
  afterEach(() => {
    process.env = { ...savedEnv };
  });

  async function parse(
    args: string[],
  ): Promise<{ options?: ServeOptions; exitCode?: number; stderr: string }> {
    let stderr = "";
    let options: ServeOptions | undefined;
    const program = createCoordProgram(
      (o) => {
        options = o;
        return Promise.resolve();
      },
      { writeErr: (s) => (stderr += s), writeOut: () => undefined },
    );
    try {
      await program.parseAsync(["serve", ...args], { from: "user" });
      return options === undefined ? { stderr } : { options, stderr };
    } catch (err) {
      const exitCode = usageExitCode(err);
      if (exitCode === undefined) throw err;
      return { exitCode, stderr };
    }
  }

  it("parses the DESIGN.md §3 example", async () => {
    const { options } = await parse(
      "--id coord-1 --bind 0.0.0.0:5000 --grpc 0.0.0.0:5001 --db ./coord1-data --peers coord-2=127.0.0.1:5003,coord-3=127.0.0.1:5005".split(
        " ",
      ),
    );
    expect(options).toEqual({
      id: "coord-1",
      bind: { host: "0.0.0.0", port: 5000 },
      grpc: { host: "0.0.0.0", port: 5001 },
      advertiseHost: undefined,
      dbDir: "./coord1-data",
      peers: [
        { id: "coord-2", address: "127.0.0.1:5003" },
        { id: "coord-3", address: "127.0.0.1:5005" },
      ],
      replicas: 3,
      raft: {
        tickIntervalMs: 10,
        electionTimeoutMs: 150,
        heartbeatIntervalMs: 50,
        snapshotThresholdEntries: 50_000,
        syncApply: true,
        leaseReads: true,
      },
      orphanGraceMs: 600_000,
      rebalanceBytesPerSecond: 64 * 1024 * 1024,
      readCacheBytes: 128 * 1024 * 1024,
    });
  });

  it("reads every flag from MINIKV_* and drops this node from a shared peer list", async () => {
    Object.assign(process.env, {
      MINIKV_ID: "coord-2",
      MINIKV_BIND: "127.0.0.1:0",
      MINIKV_GRPC: "127.0.0.1:0",
      MINIKV_DB: "/data",
      MINIKV_PEERS: "coord-1=a:1,coord-2=b:2,c:3",
      MINIKV_REPLICAS: "2",
      MINIKV_ADVERTISE: "coord2.internal",
      MINIKV_TICK_INTERVAL: "5ms",
      MINIKV_ELECTION_TIMEOUT: "1s",
      MINIKV_HEARTBEAT_INTERVAL: "100ms",
      MINIKV_SNAPSHOT_THRESHOLD: "50",
      MINIKV_SYNC_APPLY: "off",
      MINIKV_LEASE_READS: "off",
      MINIKV_READ_CACHE: "0",
    });
    const { options } = await parse([]);
    expect(options).toMatchObject({
      id: "coord-2",
      bind: { host: "127.0.0.1", port: 0 },
      dbDir: "/data",
      peers: [
        { id: "coord-1", address: "a:1" },
        { id: undefined, address: "c:3" },
      ],
      replicas: 2,
      advertiseHost: "coord2.internal",
      raft: {
        tickIntervalMs: 5,
        electionTimeoutMs: 1000,
        heartbeatIntervalMs: 100,
        snapshotThresholdEntries: 50,
        syncApply: false,
        leaseReads: false,
      },
      readCacheBytes: 0,
    });
  });

  it("a flag beats its environment variable", async () => {
    process.env["MINIKV_ID"] = "from-env";
    const { options } = await parse(["--id", "from-flag", "--db", "d"]);
    expect(options?.id).toBe("from-flag");
  });

  it.each([
    [["--db", "d"], /--id/],
    [["--id", "c1"], /--db/],
    [["--id", "bad id!", "--db", "d"], /--id must match/],
    [["--id", "c1", "--db", "d", "--bind", "nohost"], /--bind: expected HOST:PORT/],
    [["--id", "c1", "--db", "d", "--peers", "c2=x"], /HOST:PORT/],
    [["--id", "c1", "--db", "d", "--peers", "c2=x:1,c2=y:2"], /twice/],
    [["--id", "c1", "--db", "d", "--replicas", "0"], /--replicas/],
    [["--id", "c1", "--db", "d", "--election-timeout", "20ms"], /--election-timeout/],
    [["--id", "c1", "--db", "d", "--heartbeat-interval", "100ms"], /--heartbeat-interval/],
    [["--id", "c1", "--db", "d", "--tick-interval", "soon"], /--tick-interval/],
    [["--id", "c1", "--db", "d", "--snapshot-threshold", "1"], /--snapshot-threshold/],
    [["--id", "c1", "--db", "d", "--advertise", "a b"], /--advertise/],
    [["--id", "c1", "--db", "d", "--sync-apply", "maybe"], /--sync-apply/],
    [["--id", "c1", "--db", "d", "--lease-reads", "sometimes"], /--lease-reads/],
    [["--id", "c1", "--db", "d", "--read-cache", "lots"], /--read-cache/],
    [["--id", "c1", "--db", "d", "--read-cache", "65GiB"], /--read-cache must be at most/],
    [["--id", "c1", "--db", "d", "--frobnicate"], /unknown option/],
  ])("refuses %j with one error line and exit status 2", async (args, message) => {
    const { exitCode, stderr, options } = await parse(args);
    expect(options).toBeUndefined();
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});
