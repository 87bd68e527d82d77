import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c } from "../common/hashing.js";
import { VolumeClient } from "../common/volume-client.js";
import { httpJson } from "./support/http-client.js";
import { ProcessHarness } from "./support/process-harness.js";
import { putValue, readAll, sha256Of, testValue, volumeBinary } from "./volume-fixture.js";

// Issue 2 §2 "Servers": `minikv-volume serve` as a real process — flags and their MINIKV_*
// twins (DESIGN.md §3), usage errors exit 2 with one line, port 0, the listening line,
// SIGTERM closes cleanly (exit 0) and the data is there after a restart.

let binary: string;
let harness: ProcessHarness;

beforeAll(async () => {
  binary = volumeBinary();
  harness = await ProcessHarness.create("minikv-volume-process-");
});

afterAll(async () => {
  await harness?.cleanup();
});

function run(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [binary, ...args], {
    env: { ...process.env, MINIKV_LOG_LEVEL: "silent", ...env },
    encoding: "utf8",
    timeout: 15_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("minikv-volume command line (DESIGN.md §3)", () => {
  it("prints help with every flag and its environment variable", () => {
    const result = run(["serve", "--help"]);
    expect(result.status).toBe(0);
    for (const flag of ["--id", "--bind", "--grpc", "--data", "--wal", "--coordinators", "--advertise"]) {
      expect(result.stdout).toContain(flag);
    }
    for (const flag of [
      "--segment-size",
      "--snapshot-interval",
      "--compaction-threshold",
      "--prepared-timeout",
    ]) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain("MINIKV_BIND");
  });

  it.each([
    ["an unknown flag", ["serve", "--id", "v", "--data", "/tmp/x", "--bogus"]],
    ["a missing --id", ["serve", "--data", "/tmp/x"]],
    ["a bad --bind", ["serve", "--id", "v", "--data", "/tmp/x", "--bind", "nowhere"]],
    ["a bad port", ["serve", "--id", "v", "--data", "/tmp/x", "--grpc", "127.0.0.1:99999"]],
    ["a bad size", ["serve", "--id", "v", "--data", "/tmp/x", "--segment-size", "lots"]],
    ["a bad ratio", ["serve", "--id", "v", "--data", "/tmp/x", "--compaction-threshold", "2"]],
    ["a bad duration", ["serve", "--id", "v", "--data", "/tmp/x", "--prepared-timeout", "soon"]],
    ["a bad URL", ["serve", "--id", "v", "--data", "/tmp/x", "--coordinators", "ftp://x"]],
    ["a bad id", ["serve", "--id", "a b", "--data", "/tmp/x"]],
    ["an unknown command", ["serv"]],
  ])("refuses %s with one line and exit code 2", (_name, args) => {
    const result = run(args);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/error/i);
  });

  it("refuses a bad value from the environment too", () => {
    const result = run(["serve"], { MINIKV_ID: "v", MINIKV_DATA: "/tmp/x", MINIKV_BIND: "nowhere" });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("MINIKV_BIND");
  });
});

describe("minikv-volume serve (real process)", () => {
  it("takes its flags from MINIKV_* variables, serves on port 0, closes on SIGTERM and keeps its data", async () => {
    const data = await harness.dir("env-vol/data");
    const wal = await harness.dir("env-vol/wal");
    const volume = await harness.start({
      name: "env-vol",
      script: binary,
      role: "volume",
      args: ["serve"],
      env: {
        MINIKV_ID: "vol-env",
        MINIKV_BIND: "127.0.0.1:0",
        MINIKV_GRPC: "127.0.0.1:0",
        MINIKV_DATA: data,
        MINIKV_WAL: wal,
        MINIKV_COORDINATORS: "http://127.0.0.1:1",
        MINIKV_LOG_LEVEL: "warn",
      },
    });
    expect(volume.listening).toMatchObject({ event: "listening", id: "vol-env" });
    expect(String(volume.listening.http)).toMatch(/^127\.0\.0\.1:\d+$/);
    const health = await httpJson<{ id: string; state: string }>(`${volume.httpUrl}/health`);
    expect(health).toEqual(expect.objectContaining({ id: "vol-env", state: "serving" }));

    const value = testValue(100_000);
    let client = new VolumeClient(String(volume.listening.grpc));
    await putValue(client, "survives/sigterm", value, 1);
    client.close();
    expect(await volume.stop()).toEqual({ code: 0, signal: null });

    await volume.restart();
    client = new VolumeClient(String(volume.listening.grpc));
    try {
      expect(sha256Of(await readAll(client.read("survives/sigterm")))).toBe(value.sha256);
    } finally {
      client.close();
    }
    expect(await volume.stop()).toEqual({ code: 0, signal: null });
  });
});

describe("bounded memory for large values (DESIGN.md §2, issue 2 §2 Reads)", () => {
  const sizeBytes = (process.env["HEAVY"] === "1" ? 2048 : 256) * 1024 * 1024;
  const rssBytesMax = 160 * 1024 * 1024;
  const testTimeoutMs = process.env["HEAVY"] === "1" ? 600_000 : 60_000;

  it(
    `streams ${sizeBytes / 1024 / 1024} MiB in and out of a volume process in bounded memory`,
    async () => {
      const volume = await harness.start({
        name: "big-vol",
        script: binary,
        role: "volume",
        args: [
          "serve",
          ...["--id", "vol-big", "--bind", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--coordinators", ""],
          ...["--data", await harness.dir("big-vol/data"), "--wal", await harness.dir("big-vol/wal")],
        ],
        env: { MINIKV_LOG_LEVEL: "warn" },
      });
      const pid = volume.pid ?? 0;
      let rssMaxBytes = 0;
      const sampler = setInterval(() => (rssMaxBytes = Math.max(rssMaxBytes, rssOf(pid))), 25);
      const client = new VolumeClient(String(volume.listening.grpc));
      try {
        const chunk = randomBytes(1024 * 1024);
        let crc = 0;
        for (let at = 0; at < sizeBytes; at += chunk.length) crc = crc32c(chunk, crc);
        function* body(): Generator<Buffer> {
          for (let at = 0; at < sizeBytes; at += chunk.length) yield chunk;
        }
        await client.prepare({ txid: "big-1", key: "big/value", size: sizeBytes, crc32c: crc }, body());
        await client.commit("big-1", 1);
        // A slow reader: the volume must hold back instead of buffering the value.
        let readBytes = 0;
        let readCrc = 0;
        for await (const piece of client.read("big/value")) {
          const bytes = piece as Buffer;
          readBytes += bytes.length;
          readCrc = crc32c(bytes, readCrc);
          if (readBytes % (32 * 1024 * 1024) < bytes.length) await sleep(50);
        }
        expect(readBytes).toBe(sizeBytes);
        expect(readCrc).toBe(crc);
      } finally {
        clearInterval(sampler);
        client.close();
      }
      process.stderr.write(
        `volume RSS peak while streaming ${sizeBytes} bytes: ${(rssMaxBytes / 1024 / 1024).toFixed(0)} MiB\n`,
      );
      expect(rssMaxBytes, `volume RSS peaked at ${(rssMaxBytes / 1024 / 1024).toFixed(0)} MiB`).toBeLessThan(
        rssBytesMax,
      );
      expect(rssMaxBytes).toBeGreaterThan(0);
      expect(await volume.stop()).toEqual({ code: 0, signal: null });
    },
    testTimeoutMs,
  );
});

/** Resident set size of a process, from /proc (Linux). */
function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return Number(match?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
