import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COORD_SCRIPT, type HealthJson } from "./support/coord-cluster.js";
import { httpJson } from "./support/http-client.js";
import { ProcessHarness, REPO_ROOT } from "./support/process-harness.js";

const run = promisify(execFile);

/**
 * `minikv-coord serve` as a process (DESIGN.md §3; issue 3 §4): usage errors are one line
 * and exit status 2, flags come from MINIKV_* too, port 0 is reported on the listening line,
 * SIGTERM stops it with exit status 0.
 */
describe("minikv-coord process", () => {
  let harness: ProcessHarness;

  beforeAll(async () => {
    harness = await ProcessHarness.create("minikv-coord-process-");
  });
  afterAll(async () => {
    await harness.cleanup();
  });

  it.each([
    [["serve", "--id", "c1"], /--db is required/],
    [["serve", "--id", "c1", "--db", "d", "--bind", "nope"], /--bind/],
    [["serve", "--nonsense"], /unknown option/],
  ])("refuses %j with one line on stderr and exit status 2", async (args, message) => {
    const failed = await run(process.execPath, [join(REPO_ROOT, COORD_SCRIPT), ...args], {
      env: { ...process.env, MINIKV_DB: "" },
    }).then(
      () => undefined,
      (err: unknown) => err as { code: number; stderr: string; stdout: string },
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr.trim().split("\n")).toHaveLength(1);
    expect(failed?.stderr).toMatch(message);
    expect(failed?.stdout).toBe("");
  });

  it("takes its flags from MINIKV_*, reports port 0 as bound, and exits 0 on SIGTERM", async () => {
    const db = await harness.dir("solo");
    const solo = await harness.start({
      name: "solo",
      script: COORD_SCRIPT,
      role: "coordinator",
      args: ["serve"],
      env: { MINIKV_ID: "solo-1", MINIKV_BIND: "127.0.0.1:0", MINIKV_GRPC: "127.0.0.1:0", MINIKV_DB: db },
    });
    expect(solo.listening).toMatchObject({ event: "listening", id: "solo-1" });
    expect(solo.listening.http).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(solo.listening.grpc).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    const health = await httpJson<HealthJson>(`${solo.httpUrl}/health`);
    expect(health).toMatchObject({ status: "ok", id: "solo-1", grpcAddress: solo.listening.grpc });
    expect(await solo.stop()).toEqual({ code: 0, signal: null });
  });
});
