import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const bins = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> })
  .bin;

/** `npx minikv …` (README) runs the built file itself: the build must leave it executable. */
it("every bin entry point is built executable and runs as a program", () => {
  expect(Object.keys(bins).sort()).toEqual(["minikv", "minikv-coord", "minikv-volume"]);
  for (const target of Object.values(bins)) {
    expect({ target, executable: (statSync(join(ROOT, target)).mode & 0o111) === 0o111 }).toEqual({
      target,
      executable: true,
    });
  }
  const help = spawnSync(join(ROOT, bins["minikv"] ?? ""), ["--help"], { encoding: "utf8", timeout: 30_000 });
  expect(help.status).toBe(0);
  expect(help.stdout).toContain("Usage: minikv");
});
