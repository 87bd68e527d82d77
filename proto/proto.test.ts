import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

describe("proto/generated", () => {
  const out = mkdtempSync(join(tmpdir(), "minikv-proto-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("is exactly what scripts/proto-gen.mjs generates from proto/*.proto", () => {
    execFileSync(process.execPath, ["scripts/proto-gen.mjs", out], { stdio: "pipe" });
    const committed = join("proto", "generated");
    const expected = listFiles(out)
      .map((f) => relative(out, f))
      .sort();
    expect(
      listFiles(committed)
        .map((f) => relative(committed, f))
        .sort(),
    ).toEqual(expected);
    for (const file of expected) {
      expect(readFileSync(join(committed, file), "utf8"), file).toBe(readFileSync(join(out, file), "utf8"));
    }
  });
});
