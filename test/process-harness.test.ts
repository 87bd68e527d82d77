import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessHarness } from "./support/process-harness.js";

/**
 * The process harness every multi-process test and benchmark relies on: it must learn
 * addresses from the listening line, capture logs, crash and restart by PID, and clean up.
 */
const SERVER = `
import { createServer } from "node:net";
const server = createServer().listen(0, "127.0.0.1", () => {
  process.stderr.write("booting " + process.argv[2] + "\\n");
  console.log(JSON.stringify({ event: "listening", id: process.argv[2], http: "127.0.0.1:" + server.address().port }));
});
process.on("SIGTERM", () => { process.stderr.write("graceful\\n"); server.close(() => process.exit(0)); });
`;

describe("process harness", () => {
  let harness: ProcessHarness;
  let script = "";

  beforeAll(async () => {
    harness = await ProcessHarness.create("minikv-harness-test-");
    script = join(harness.rootDir, "server.mjs");
    await writeFile(script, SERVER);
    await writeFile(join(harness.rootDir, "dies.mjs"), 'console.error("bad flag"); process.exit(2);\n');
  });

  afterAll(async () => {
    await harness.cleanup();
    expect(existsSync(harness.rootDir)).toBe(false);
  });

  it("learns the address from the listening line and captures stderr in the log", async () => {
    const p = await harness.start({ name: "a", script, args: ["node-a"] });
    expect(p.listening).toMatchObject({ event: "listening", id: "node-a" });
    expect(p.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(p.pid).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(p.logTail()).toContain("booting node-a");
  });

  it("kill -9 crashes by PID, restart reuses the arguments, stop is SIGTERM", async () => {
    const p = harness.all.find((x) => x.name === "a");
    if (p === undefined) throw new Error("no process a");
    const firstPid = p.pid;
    expect(await p.kill("SIGKILL")).toEqual({ code: null, signal: "SIGKILL" });
    expect(p.running).toBe(false);
    await p.restart();
    expect(p.starts).toBe(2);
    expect(p.pid).not.toBe(firstPid);
    expect(p.listening.id).toBe("node-a");
    expect(await p.stop()).toEqual({ code: 0, signal: null });
    expect(p.logTail()).toContain("graceful");
  });

  it("rejects start() with the log tail when the process exits before listening", async () => {
    await expect(
      harness.start({ name: "dies", script: join(harness.rootDir, "dies.mjs"), args: [] }),
    ).rejects.toThrow(/exited \(code=2[\s\S]*bad flag/);
  });

  it("runs at a given nice value with the PID of node itself", async () => {
    const p = await harness.start({ name: "nice", script, args: ["node-nice"], nice: 5 });
    const stat = (await readFile(`/proc/${p.pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
    // Field 19 of /proc/<pid>/stat is the nice value (16 after the command name).
    expect(Number(stat[16])).toBe(5);
    expect(await readFile(`/proc/${p.pid}/cmdline`, "utf8")).toContain("server.mjs");
  });
});
