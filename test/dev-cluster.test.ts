import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
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
  const dir = await mkdtemp(join(tmpdir(), "minikv-dev-"));
  const [coordinatorPort, volumePort] = [await freePortRun(2), await freePortRun(2)];
  const args = ["--coordinators", "1", "--volumes", "1", "--dir", dir];
  const ports = ["--coordinator-port", String(coordinatorPort), "--volume-port", String(volumePort)];
  // The leader of a process group of its own, as a shell makes a foreground job.
  const dev = spawn(process.execPath, [CLI, "dev", ...args, ...ports], {
    detached: true,
    stdio: ["ignore", "ignore", "ignore"],
    env: { ...process.env, MINIKV_LOG_LEVEL: "info" },
  });
  const devPid = dev.pid ?? 0;
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
