import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../common/logger.js";
import { STREAM_GC_BYTES, beforeMajorCollections } from "../common/stream-memory.js";
import { startTestVolume, testValue, sha256Of, type TestVolume } from "../test/volume-fixture.js";
import { httpJson, httpRequest } from "../test/support/http-client.js";
import { waitFor } from "../test/support/wait.js";
import { startCoordinator, type CoordinatorHandle } from "./coord-server.js";
import type { ServeOptions } from "./serve-command.js";

/**
 * The blob API of issue 4 (§3 writes, §4 reads, §5 edges) in one process: a coordinator
 * (single-member Raft on LevelDB with fsync) and four volume servers on loopback, all over
 * real HTTP and gRPC. Multi-coordinator and crash behaviour: test/blob-cluster.test.ts.
 */
describe("blob API (issue 4 §3–§5)", () => {
  let dir = "";
  let coordinator: CoordinatorHandle;
  const volumes: TestVolume[] = [];
  let base = "";

  const options = (): ServeOptions => ({
    id: "coord-1",
    bind: { host: "127.0.0.1", port: 0 },
    grpc: { host: "127.0.0.1", port: 0 },
    advertiseHost: undefined,
    dbDir: join(dir, "coord-1"),
    peers: [],
    replicas: 3,
    raft: {
      tickIntervalMs: 10,
      electionTimeoutMs: 150,
      heartbeatIntervalMs: 50,
      snapshotThresholdEntries: 10_000,
      syncApply: true,
      leaseReads: true,
    },
    orphanGraceMs: 600_000,
    rebalanceBytesPerSecond: 64 * 1024 * 1024,
    readCacheBytes: 32 * 1024 * 1024,
  });

  const cluster = (): Promise<{ volumes: { id: string; state: string }[] }> => httpJson(`${base}/v1/cluster`);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "minikv-blob-api-"));
    coordinator = await startCoordinator(options(), createLogger("test"));
    base = `http://${coordinator.httpAddress}`;
    for (let i = 1; i <= 4; i++) {
      volumes.push(await startTestVolume({ id: `vol-${i}`, coordinatorUrls: [base] }));
    }
    await waitFor(
      "four volumes alive",
      async () =>
        (await cluster()).volumes.filter((v) => v.state === "alive").length === 4 ? true : undefined,
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  });

  afterAll(async () => {
    await coordinator.close();
    await Promise.all(volumes.map((v) => v.cleanup()));
    await rm(dir, { recursive: true, force: true });
  });

  const put = (key: string, body: Uint8Array, headers: Record<string, string> = {}) =>
    httpRequest(`${base}/v1/blobs/${key}`, { method: "PUT", body, headers, timeoutMs: 30_000 });

  it("round-trips blobs from 0 bytes to 5 MiB, checked by SHA-256 (§3, §4)", async () => {
    for (const size of [0, 1, 4096, 65_537, 1024 * 1024 + 3, 5 * 1024 * 1024]) {
      const value = testValue(size);
      const key = `round/trip-${size}`;
      const answer = await put(key, value.bytes, { "content-type": "application/x-test" });
      expect(answer.status, answer.body.toString()).toBe(201);
      const created = JSON.parse(answer.body.toString()) as {
        size: number;
        etag: string;
        replicas: string[];
      };
      expect(created.size).toBe(size);
      expect(created.replicas).toHaveLength(3);
      expect(answer.headers["etag"]).toBe(created.etag);
      const got = await httpRequest(`${base}/v1/blobs/${key}`, { timeoutMs: 30_000 });
      expect(got.status).toBe(200);
      expect(sha256Of(got.body)).toBe(value.sha256);
      expect(got.headers["content-length"]).toBe(String(size));
      expect(got.headers["content-type"]).toBe("application/x-test");
      expect(got.headers["etag"]).toBe(created.etag);
      expect(got.headers["last-modified"]).toBeDefined();
    }
  });

  it("takes chunked bodies, small (length learned) and large (length unknown to the volumes)", async () => {
    for (const size of [10, 3 * 1024 * 1024 + 17]) {
      const value = testValue(size);
      const status = await chunkedPut(`${base}/v1/blobs/chunked-${size}`, value.bytes);
      expect(status).toBe(201);
      const got = await httpRequest(`${base}/v1/blobs/chunked-${size}`, { timeoutMs: 30_000 });
      expect(sha256Of(got.body)).toBe(value.sha256);
    }
  });

  it("takes a multipart POST with field file, and refuses other forms (§3, §5)", async () => {
    const value = testValue(200_000);
    const form = new FormData();
    form.append("note", "hello");
    form.append("file", new Blob([value.bytes], { type: "image/png" }), "x.png");
    const answer = await fetch(`${base}/v1/blobs/form/upload.png`, { method: "POST", body: form });
    expect(answer.status).toBe(201);
    const got = await httpRequest(`${base}/v1/blobs/form/upload.png`);
    expect(sha256Of(got.body)).toBe(value.sha256);
    expect(got.headers["content-type"]).toBe("image/png");

    const wrongField = new FormData();
    wrongField.append("other", new Blob([value.bytes]), "x");
    const refused = await fetch(`${base}/v1/blobs/form/wrong`, { method: "POST", body: wrongField });
    expect(refused.status).toBe(400);
    const malformed = await httpRequest(`${base}/v1/blobs/form/bad`, {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=xyz" },
      body: '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
    });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body.toString())).toMatchObject({ error: { code: "INVALID_ARGUMENT" } });
    expect((await httpRequest(`${base}/v1/blobs/form/bad`)).status).toBe(404);
    expect((await httpRequest(`${base}/v1/blobs/form/wrong`)).status).toBe(404);
  });

  it("refuses a multipart file part whose Content-Type is too long, and keeps serving (§5)", async () => {
    const form = new FormData();
    form.append("file", new Blob([Buffer.from("abc")], { type: `text/${"x".repeat(300)}` }), "x.txt");
    const refused = await fetch(`${base}/v1/blobs/form/long-type`, { method: "POST", body: form });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: "INVALID_ARGUMENT" } });
    expect((await httpRequest(`${base}/v1/blobs/form/long-type`)).status).toBe(404);
  });

  it("serves Range (206, 416), If-None-Match (304), HEAD and ?redirect=1 (§4)", async () => {
    const value = testValue(100_000);
    const created = JSON.parse((await put("ranged", value.bytes)).body.toString()) as { etag: string };
    const part = await httpRequest(`${base}/v1/blobs/ranged`, { headers: { range: "bytes=10-99" } });
    expect(part.status).toBe(206);
    expect(part.headers["content-range"]).toBe("bytes 10-99/100000");
    expect(part.body.equals(value.bytes.subarray(10, 100))).toBe(true);
    const suffix = await httpRequest(`${base}/v1/blobs/ranged`, { headers: { range: "bytes=-5" } });
    expect(suffix.body.equals(value.bytes.subarray(99_995))).toBe(true);
    const outside = await httpRequest(`${base}/v1/blobs/ranged`, { headers: { range: "bytes=200000-" } });
    expect(outside.status).toBe(416);
    const notModified = await httpRequest(`${base}/v1/blobs/ranged`, {
      headers: { "if-none-match": created.etag },
    });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    const head = await httpRequest(`${base}/v1/blobs/ranged`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe("100000");
    const redirected = await httpRequest(`${base}/v1/blobs/ranged?redirect=1`);
    expect(redirected.status).toBe(307);
    const location = String(redirected.headers["location"]);
    const direct = await httpRequest(location);
    expect(direct.status).toBe(200);
    expect(sha256Of(direct.body)).toBe(value.sha256);
  });

  it("deletes (204, then 404), overwrites, and lists in key order with pagination (§3, §4)", async () => {
    expect((await put("gone", Buffer.from("x"))).status).toBe(201);
    expect((await httpRequest(`${base}/v1/blobs/gone`, { method: "DELETE" })).status).toBe(204);
    expect((await httpRequest(`${base}/v1/blobs/gone`)).status).toBe(404);
    const again = await httpRequest(`${base}/v1/blobs/gone`, { method: "DELETE" });
    expect(again.status).toBe(404);
    expect(JSON.parse(again.body.toString())).toMatchObject({ error: { code: "KEY_NOT_FOUND" } });

    const first = JSON.parse((await put("over", Buffer.from("one"))).body.toString()) as { version: number };
    const second = JSON.parse((await put("over", Buffer.from("two!"))).body.toString()) as {
      version: number;
    };
    expect(second.version).toBeGreaterThan(first.version);
    expect((await httpRequest(`${base}/v1/blobs/over`)).body.toString()).toBe("two!");

    const keys = ["list/b", "list/a", "list/é", "list/c/d", "list/z", "lisu"];
    for (const key of keys) expect((await put(encodeURI(key), Buffer.from(key))).status).toBe(201);
    const seen: string[] = [];
    let next: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query = new URLSearchParams({
        prefix: "list/",
        limit: "2",
        ...(next === null ? {} : { start_after: next }),
      });
      const body: { keys: { key: string }[]; next: string | null } = await httpJson(
        `${base}/v1/blobs?${query.toString()}`,
      );
      seen.push(...body.keys.map((k) => k.key));
      next = body.next;
      if (next === null) break;
    }
    const expected = keys
      .filter((k) => k.startsWith("list/"))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(seen).toEqual(expected);
    expect((await httpRequest(`${base}/v1/blobs?limit=0`)).status).toBe(400);
    expect((await httpRequest(`${base}/v1/blobs?limit=abc`)).status).toBe(400);
  });

  it("refuses bad keys, methods and lengths with a clear 4xx and changes nothing (§5)", async () => {
    const long = "k".repeat(1025);
    for (const path of ["%00bad", "a%7Fb", "%C2%80x", "%E0%80", "%", long]) {
      const answer = await put(path, Buffer.from("v"));
      expect(answer.status, path).toBe(400);
      expect(JSON.parse(answer.body.toString())).toMatchObject({ error: { code: "INVALID_KEY" } });
    }
    expect((await put("", Buffer.from("v"))).status).toBe(400);
    const patch = await httpRequest(`${base}/v1/blobs/k`, { method: "PATCH", body: "v" });
    expect(patch.status).toBe(405);
    expect((await httpRequest(`${base}/v1/nowhere`)).status).toBe(404);
    const list: { keys: { key: string }[] } = await httpJson(`${base}/v1/blobs?prefix=k`);
    expect(list.keys.map((k) => k.key)).not.toContain("k");
  });

  it("an upload cut short (client gone) stores nothing and frees its space (§3, DESIGN.md §2)", async () => {
    // Streamed to the volumes as it arrives (2 MiB), and received whole before preparing (100 KiB).
    for (const [key, declared, sent] of [
      ["cut-short", 2 * 1024 * 1024, 300_000],
      ["cut-short-small", 100 * 1024, 10_000],
    ] as const) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(coordinator.httpAddress.split(":")[1]), "127.0.0.1", () => {
          socket.write(`PUT /v1/blobs/${key} HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\n\r\n`);
          socket.write(Buffer.alloc(sent, 7), () => setTimeout(() => socket.destroy(), 200));
        });
        socket.on("close", () => resolve());
        socket.on("error", reject);
      });
      await waitFor(
        `no prepared record of ${key} left on any volume`,
        async () => {
          for (const v of volumes) {
            for await (const batch of v.client.listKeys({ includePrepared: true })) {
              if (batch.some((entry) => entry.key === key)) return undefined;
            }
          }
          return true;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect((await httpRequest(`${base}/v1/blobs/${key}`)).status).toBe(404);
    }
    const badLength = await rawRequest(
      coordinator.httpAddress,
      "PUT /v1/blobs/bad-length HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc",
    );
    expect(badLength).toMatch(/^HTTP\/1\.1 400/);
    expect((await httpRequest(`${base}/v1/blobs/bad-length`)).status).toBe(404);
  });

  it("never serves a corrupt replica: the read succeeds from another and the key is queued for repair (§4)", async () => {
    const value = testValue(300_000);
    const created = JSON.parse((await put("corrupt-me", value.bytes)).body.toString()) as {
      replicas: string[];
    };
    const victim = volumes.find((v) => v.server.id === created.replicas[0]);
    expect(victim).toBeDefined();
    if (victim === undefined) return;
    corruptValue(victim.dataDir, value.bytes);
    const got = await httpRequest(`${base}/v1/blobs/corrupt-me`, { timeoutMs: 30_000 });
    expect(got.status).toBe(200);
    expect(sha256Of(got.body)).toBe(value.sha256);
    const metrics = (await httpRequest(`${base}/metrics`)).body.toString();
    expect(metrics).toMatch(/minikv_read_fallbacks_total\{reason="DATA_CORRUPT"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/minikv_repair_queued_total\{[^}]*\} [1-9]/);
  });

  it("times each phase of a committed write: receive, prepare, commit (/metrics)", async () => {
    const counts = async (): Promise<Record<string, number>> => {
      const text = (await httpRequest(`${base}/metrics`)).body.toString();
      const found: Record<string, number> = {};
      for (const m of text.matchAll(/^minikv_2pc_phase_seconds_count\{[^}]*phase="(\w+)"[^}]*\} (\d+)$/gm)) {
        found[m[1] as string] = Number(m[2]);
      }
      return found;
    };
    const before = await counts();
    expect((await put("phases-small", testValue(1000).bytes)).status).toBe(201);
    expect((await put("phases-large", testValue(600_000).bytes)).status).toBe(201);
    const after = await counts();
    for (const phase of ["receive", "prepare", "commit"]) {
      expect((after[phase] ?? 0) - (before[phase] ?? 0), phase).toBe(2);
    }
    // A refused write is not a committed one: no phase is timed.
    expect((await put("%00bad", testValue(10).bytes)).status).toBe(400);
    expect(await counts()).toEqual(after);
  });

  it("counts small bodies received whole toward its collections, as it counts streamed ones", async () => {
    let majors = 0;
    const stop = beforeMajorCollections(() => {
      majors += 1;
      return false;
    });
    try {
      const body = Buffer.alloc(256 * 1024, 1); // received whole, prepared in one pipe message
      for (let i = 0; i < STREAM_GC_BYTES / body.length + 1; i++) {
        expect((await put(`small-bodies/${i}`, body)).status).toBe(201);
      }
    } finally {
      stop();
    }
    expect(majors).toBeGreaterThanOrEqual(1);
  });

  it("reads a small range in one answer: a corrupt replica is skipped for the next, all corrupt is 503 (§4)", async () => {
    // Larger than the read cache takes, so every read of it goes to the replicas.
    const value = testValue(300_000);
    const created = JSON.parse((await put("corrupt-range", value.bytes)).body.toString()) as {
      replicas: string[];
    };
    const holders = created.replicas.map((id) => volumes.find((v) => v.server.id === id));
    const fallbacks = async () =>
      Number(
        /minikv_read_fallbacks_total\{reason="DATA_CORRUPT"[^}]*\} (\d+)/.exec(
          (await httpRequest(`${base}/metrics`)).body.toString(),
        )?.[1] ?? 0,
      );
    const readRange = () =>
      httpRequest(`${base}/v1/blobs/corrupt-range`, {
        headers: { range: "bytes=1000-1999" },
        timeoutMs: 30_000,
      });
    const before = await fallbacks();
    const first = holders[0];
    expect(first).toBeDefined();
    if (first !== undefined) corruptValue(first.dataDir, value.bytes);
    const got = await readRange();
    expect(got.status).toBe(206);
    expect(got.body.equals(value.bytes.subarray(1000, 2000))).toBe(true);
    expect(await fallbacks()).toBe(before + 1);

    for (const holder of holders.slice(1))
      if (holder !== undefined) corruptValue(holder.dataDir, value.bytes);
    const none = await readRange();
    expect(none.status).toBe(503);
    expect(JSON.parse(none.body.toString())).toMatchObject({ error: { code: "UNAVAILABLE" } });
    expect(await fallbacks()).toBe(before + 4);
  });

  it("serves a small value from its read cache (filled by the write), checked, and never a replaced version", async () => {
    const first = testValue(10_000);
    const created = JSON.parse((await put("cached", first.bytes)).body.toString()) as { replicas: string[] };
    const read = () => httpRequest(`${base}/v1/blobs/cached`, { timeoutMs: 30_000 });
    expect(sha256Of((await read()).body)).toBe(first.sha256);
    const hitsBefore = cacheHits((await httpRequest(`${base}/metrics`)).body.toString());
    // Every replica now fails its CRC check: only the cache can still answer, with the right bytes.
    for (const id of created.replicas) {
      const holder = volumes.find((v) => v.server.id === id);
      if (holder !== undefined) corruptValue(holder.dataDir, first.bytes);
    }
    const again = await read();
    expect(again.status).toBe(200);
    expect(sha256Of(again.body)).toBe(first.sha256);
    const range = await httpRequest(`${base}/v1/blobs/cached`, { headers: { range: "bytes=100-199" } });
    expect(range.status).toBe(206);
    expect(range.body.equals(first.bytes.subarray(100, 200))).toBe(true);
    expect(cacheHits((await httpRequest(`${base}/metrics`)).body.toString())).toBe(hitsBefore + 2);

    const second = testValue(10_000);
    expect((await put("cached", second.bytes)).status).toBe(201);
    expect(sha256Of((await read()).body)).toBe(second.sha256);
    expect((await httpRequest(`${base}/v1/blobs/cached`, { method: "DELETE" })).status).toBe(204);
    expect((await read()).status).toBe(404);
  });

  it("answers 503 NOT_ENOUGH_VOLUMES and writes nothing when fewer than N volumes are alive (§3)", async () => {
    await volumes[2]?.server.close();
    await volumes[3]?.server.close();
    await waitFor(
      "two volumes down",
      async () =>
        (await cluster()).volumes.filter((v) => v.state === "down").length === 2 ? true : undefined,
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const answer = await put("no-room", Buffer.from("v"));
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ error: { code: "NOT_ENOUGH_VOLUMES" } });
    expect((await httpRequest(`${base}/v1/blobs/no-room`)).status).toBe(404);
  });
});

/** Sends raw bytes over one connection and returns whatever comes back before it closes. */
function rawRequest(address: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(address.split(":")[1]), "127.0.0.1", () => socket.end(text));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("error", reject);
    socket.setTimeout(5_000, () => socket.destroy());
  });
}

/** Sends `body` with Transfer-Encoding: chunked, in 64 KiB pieces. */
function chunkedPut(url: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "PUT", headers: { "transfer-encoding": "chunked" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    void (async () => {
      for (let at = 0; at < body.length; at += 65_536) {
        if (!req.write(body.subarray(at, at + 65_536))) await new Promise((r) => req.once("drain", r));
        await sleep(0);
      }
      req.end();
    })();
  });
}

function cacheHits(metrics: string): number {
  return Number(/minikv_read_cache_lookups_total\{result="hit"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
}

/** Flips one byte of `value` where it lies in a volume's segment files. */
function corruptValue(dataDir: string, value: Buffer): void {
  const probe = value.subarray(1000, 1032);
  for (const name of readdirSync(dataDir).filter((n) => n.endsWith(".dat"))) {
    const path = join(dataDir, name);
    const bytes = readFileSync(path);
    const at = bytes.indexOf(probe);
    if (at >= 0) {
      bytes[at + 5] = (bytes[at + 5] ?? 0) ^ 0xff;
      writeFileSync(path, bytes);
      return;
    }
  }
  throw new Error(`value not found under ${dataDir}`);
}
