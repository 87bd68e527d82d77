import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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

  it.runIf(existsSync(CLI))(
    "verify exits 1 when it finds problems, repair and rebalance when they leave some unresolved; 0 when clean",
    async () => {
      // A coordinator whose jobs finish at once with the report each test case sets.
      const reports: Record<string, Record<string, unknown>> = {};
      const server: Server = createServer((req, res) => {
        const type = /^\/v1\/admin\/(verify|repair|rebalance)$/.exec(req.url ?? "")?.[1];
        req.resume();
        req.on("end", () => {
          if (req.method !== "POST" || type === undefined) {
            res
              .writeHead(404, { "content-type": "application/json" })
              .end('{"error":{"code":"NOT_FOUND","message":"no"}}');
            return;
          }
          const job = {
            id: `${type}-1`,
            type,
            state: "succeeded",
            progress: { done: 1, total: 1 },
            report: reports[type],
          };
          res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ job }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const cases: [string, Record<string, unknown>, number][] = [
          ["verify", { problems: 0 }, 0],
          ["verify", { problems: 3 }, 1],
          ["repair", { unresolved: 0, repaired: 2 }, 0],
          ["repair", { unresolved: 2, unrecoverable: 1, orphansFailed: 1 }, 1],
          ["rebalance", { unresolved: 0, moved: 4, dropFailed: 1 }, 0],
          ["rebalance", { unresolved: 1, failed: 1 }, 1],
        ];
        for (const [type, report, code] of cases) {
          reports[type] = report;
          const answer = await minikv("--coordinator", url, "--json", type);
          expect({ type, report, code: answer.code }).toEqual({ type, report, code });
          expect(JSON.parse(answer.stdout)).toMatchObject({ state: "succeeded", report });
          if (type !== "verify" && code === 1) {
            expect(answer.stderr).toContain(
              `${type} left ${String(report["unresolved"])} problem(s) unresolved`,
            );
          }
        }
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
});
