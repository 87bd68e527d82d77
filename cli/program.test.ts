import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { createProgram } from "./program.js";

const run = promisify(execFile);
const CLI = "dist/cli/main.js";

/** Runs the built CLI and returns its exit code and output (never throws on non-zero exits). */
async function minikv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, MINIKV_COORDINATOR: "" },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("minikv command line (DESIGN.md §3)", () => {
  it("has every command of the contract", () => {
    const names = createProgram().commands.map((c) => c.name());
    for (const name of [
      "put",
      "get",
      "delete",
      "list",
      "stat",
      "status",
      "verify",
      "repair",
      "rebalance",
      "compact",
      "volume",
      "coord",
    ]) {
      expect(names).toContain(name);
    }
  });

  it.runIf(existsSync(CLI))(
    "exits 2 on usage errors and 1 when the operation fails, with one error line",
    async () => {
      const unknown = await minikv("frobnicate");
      expect(unknown.code).toBe(2);
      const missingArg = await minikv("get");
      expect(missingArg.code).toBe(2);
      const badKey = await minikv("get", "a\u0001b");
      expect(badKey.code).toBe(2);
      expect(badKey.stderr.trim()).toBe("error: INVALID_KEY: key contains a control character");
      const down = await minikv("--coordinator", "http://127.0.0.1:1", "stat", "k");
      expect(down.code).toBe(1);
      expect(down.stderr.trim().split("\n")).toHaveLength(1);
      expect(down.stderr).toMatch(/^error: UNAVAILABLE: /);
      const help = await minikv("put", "--help");
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("Examples:");
    },
  );
});
