import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "./support/http-client.js";
import { REPO_ROOT } from "./support/process-harness.js";

/**
 * scripts/cluster-up.sh and cluster-down.sh (issue 5 §5): separate processes on loopback with
 * the flags of DESIGN.md §3, PIDs in <dir>/pids, /health of each before up returns, and down
 * stops exactly those PIDs.
 */

const UP = join(REPO_ROOT, "scripts", "cluster-up.sh");
const DOWN = join(REPO_ROOT, "scripts", "cluster-down.sh");
const COORDINATORS = 3;
const VOLUMES = 3;
/** Bases tried for a free run of ports (coordinators at base, volumes at base + 1000). */
const BASE_ATTEMPTS_MAX = 20;
const SCRIPT_TIMEOUT_MS = 120_000;

interface ScriptResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runScript(script: string, args: readonly string[]): Promise<ScriptResult> {
  return new Promise((resolve) => {
    execFile("bash", [script, ...args], { timeout: SCRIPT_TIMEOUT_MS }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A base port whose coordinator and volume port runs are free right now. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < BASE_ATTEMPTS_MAX; attempt++) {
    const base = 20_000 + 2 * Math.floor(Math.random() * 4_000);
    const ports = [0, 1, 2, 3, 4, 5].flatMap((offset) => [base + offset, base + 1000 + offset]);
    const free = await Promise.all(ports.map(portIsFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error("no free port range found");
}

/** Whether the PID runs (a zombie does not: this VM's PID 1 may not reap orphans). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function recordedPids(dir: string): { pid: number; name: string }[] {
  return readFileSync(join(dir, "pids"), "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [pid, name] = line.split(" ");
      return { pid: Number(pid), name: name ?? "" };
    });
}

interface ClusterJson {
  readonly leader: string | null;
  readonly coordinators: readonly { id: string; role: string }[];
  readonly volumes: readonly { id: string; state: string }[];
}

describe("scripts/cluster-up.sh and cluster-down.sh (issue 5 §5)", () => {
  let root: string;
  let pids: number[] = [];

  beforeAll(async () => {
    expect(existsSync(join(REPO_ROOT, "dist", "coordinator", "main.js")), "run npm run build").toBe(true);
    root = await mkdtemp(join(tmpdir(), "minikv-cluster-scripts-"));
  });
  afterAll(async () => {
    // A failed assertion must not leave servers behind: stop what the pid file named.
    for (const pid of pids.filter(running)) process.kill(pid, "SIGKILL");
    await rm(root, { recursive: true, force: true });
  });

  it("starts 3 coordinators and 3 volumes, serves /health and /v1/cluster, and stops exactly them", async () => {
    const dir = join(root, "cluster");
    const base = await freeBasePort();
    const up = await runScript(UP, [
      ...["--dir", dir, "--base-port", String(base), "--timeout", "90"],
      ...["--coordinators", String(COORDINATORS), "--volumes", String(VOLUMES)],
    ]);
    expect(up.code, up.stderr).toBe(0);
    const recorded = recordedPids(dir);
    pids = recorded.map((r) => r.pid);
    expect(recorded.map((r) => r.name)).toEqual(["coord-1", "coord-2", "coord-3", "vol-1", "vol-2", "vol-3"]);
    expect(pids.every(running)).toBe(true);
    const coordinatorUrls = [0, 1, 2].map((i) => `http://127.0.0.1:${base + 2 * i}`);
    expect(readFileSync(join(dir, "cluster.env"), "utf8")).toBe(
      `MINIKV_COORDINATOR=${coordinatorUrls.join(",")}\n`,
    );

    const volumeUrls = [0, 1, 2].map((i) => `http://127.0.0.1:${base + 1000 + 2 * i}`);
    for (const url of [...coordinatorUrls, ...volumeUrls]) {
      expect((await httpRequest(`${url}/health`)).status, url).toBe(200);
    }
    for (const url of coordinatorUrls) {
      const cluster = JSON.parse((await httpRequest(`${url}/v1/cluster`)).body.toString()) as ClusterJson;
      expect(cluster.leader).not.toBeNull();
      expect(cluster.coordinators.map((c) => c.id).sort()).toEqual(["coord-1", "coord-2", "coord-3"]);
      expect(cluster.volumes.map((v) => [v.id, v.state]).sort()).toEqual([
        ["vol-1", "alive"],
        ["vol-2", "alive"],
        ["vol-3", "alive"],
      ]);
    }
    for (const name of ["coord-1", "vol-1"]) expect(existsSync(join(dir, "logs", `${name}.log`))).toBe(true);

    // A second up on the same directory refuses while the first runs.
    const again = await runScript(UP, ["--dir", dir, "--base-port", String(base)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/running process/);

    const down = await runScript(DOWN, ["--dir", dir, "--timeout", "20"]);
    expect(down.code, down.stderr).toBe(0);
    expect(pids.filter(running)).toEqual([]);
    expect(existsSync(join(dir, "pids"))).toBe(false);
    // The data stays for the next up; --wipe removes it.
    expect(existsSync(join(dir, "coord-1"))).toBe(true);
    expect((await runScript(DOWN, ["--dir", dir, "--wipe"])).code).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it("answers usage errors with exit status 2 and starts nothing", async () => {
    const dir = join(root, "usage");
    for (const args of [["--coordinators", "0"], ["--volumes", "x"], ["--replicas", "4"], ["--bogus"]]) {
      const result = await runScript(UP, ["--dir", dir, ...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(existsSync(join(dir, "pids"))).toBe(false);
    }
  });
});
