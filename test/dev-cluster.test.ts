import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import { freePortRun } from "../common/free-ports.js";
import { httpRequest } from "./support/http-client.js";
import { isAlive } from "./support/process-harness.js";
import { waitFor } from "./support/wait.js";

const CLI = join(import.meta.dirname, "..", "dist", "cli", "main.js");

/**
 * `minikv dev` (what `npm start` runs) as a terminal stops it: Ctrl-C signals the whole
 * foreground process group, and `npm start` passes the signal on to `minikv dev` once more.
 */
it("a Ctrl-C stops `minikv dev` and every server it started, each with its clean close", async () => {
  const { dir, dev, devPid, coordinatorPort, volumePort } = await startDev(1, 1, "ignore");
  let servers: number[] = [];
  try {
    for (const port of [coordinatorPort, volumePort]) {
      await waitFor(
        `port ${port} healthy`,
        async () =>
          (await httpRequest(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200
            ? true
            : undefined,
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    }
    servers = childrenOf(devPid);
    expect(servers).toHaveLength(2);
    const exited = exitOf(dev);
    process.kill(-devPid, "SIGINT"); // the terminal's Ctrl-C
    process.kill(devPid, "SIGINT"); // npm start passing it on
    expect(
      await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("running"), 30_000))]),
    ).toBe(0);
    expect(servers.filter(isAlive)).toEqual([]);
    const log = (name: string) => readFileSync(join(dir, "logs", `${name}.log`), "utf8");
    expect(log("coord-1")).toContain('"msg":"stopped"');
    expect(log("vol-1")).toContain('"msg":"volume server closed"');
    expect(log("vol-1")).not.toContain("second signal");
  } finally {
    for (const pid of [devPid, ...servers]) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);

/** What the welcome promises: the commands it shows work as soon as it is printed. */
it("`minikv dev` says it is running only once every coordinator takes writes", async () => {
  const { dir, dev, devPid, coordinatorPort } = await startDev(3, 3, "pipe");
  let servers: number[] = [];
  try {
    let out = "";
    dev.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    await waitFor("the welcome", () => (out.includes("minikv is running") ? true : undefined), {
      timeoutMs: 45_000,
      intervalMs: 20,
    });
    servers = childrenOf(devPid);
    // The welcome waits for the volumes to register: a write refused for too few volumes
    // fails the test at once. A leader election (on a machine loaded by other tests, a
    // heartbeat can come too late right after the first election) answers 503 with another
    // code, which clients retry: so does this test, for up to 10 s.
    const statuses: number[] = [];
    const answers: string[] = [];
    for (const [i, port] of [coordinatorPort, coordinatorPort + 2, coordinatorPort + 4].entries()) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const answer = await httpRequest(`http://127.0.0.1:${port}/v1/blobs/first-${i}`, {
          method: "PUT",
          body: `written through coordinator ${i + 1}`,
        });
        const text = answer.body.toString("utf8");
        answers.push(`coordinator ${i + 1}: ${answer.status} ${text}`);
        const electing = answer.status === 503 && ELECTION_CODES.includes(errorCodeOf(text));
        if (!electing || Date.now() > deadline) {
          statuses.push(answer.status);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(statuses, answers.join("\n")).toEqual([201, 201, 201]);
    const exited = exitOf(dev);
    process.kill(-devPid, "SIGINT");
    expect(
      await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("running"), 30_000))]),
    ).toBe(0);
    expect(servers.filter(isAlive)).toEqual([]);
  } finally {
    for (const pid of [devPid, ...servers]) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}, 90_000);

/** Codes of a write refused while the coordinators elect a leader. */
const ELECTION_CODES: readonly string[] = [ErrorCode.NOT_LEADER, ErrorCode.NO_QUORUM, ErrorCode.UNAVAILABLE];

/** The stable code of a JSON error body (`{"error":{"code"}}`); "" for anything else. */
function errorCodeOf(body: string): string {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? "";
  } catch {
    return "";
  }
}

/**
 * `minikv dev` on free ports in a temp dir, logging at info, as the leader of a process
 * group of its own, as a shell makes a foreground job.
 */
async function startDev(coordinators: number, volumes: number, stdout: "ignore" | "pipe") {
  const dir = await mkdtemp(join(tmpdir(), "minikv-dev-"));
  const [coordinatorPort, volumePort] = [await freePortRun(2 * coordinators), await freePortRun(2 * volumes)];
  const args = ["--coordinators", String(coordinators), "--volumes", String(volumes), "--dir", dir];
  const ports = ["--coordinator-port", String(coordinatorPort), "--volume-port", String(volumePort)];
  const dev = spawn(process.execPath, [CLI, "dev", ...args, ...ports], {
    detached: true,
    stdio: ["ignore", stdout, "ignore"],
    env: { ...process.env, MINIKV_LOG_LEVEL: "info" },
  });
  return { dir, dev, devPid: dev.pid ?? 0, coordinatorPort, volumePort };
}

function exitOf(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "")));
}

/** Processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (new RegExp(`^PPid:\\s+${pid}$`, "m").test(status)) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}
