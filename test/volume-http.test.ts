import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MinikvError } from "../common/errors.js";
import { httpRequest } from "./support/http-client.js";
import {
  chunksOf,
  putValue,
  readAll,
  sha256Of,
  startTestVolume,
  testValue,
  type TestVolume,
  flipStoredByte,
} from "./volume-fixture.js";

// Issue 2 §2 "Servers" and "Reads": the volume's HTTP endpoint (DESIGN.md §4, last line):
// GET/HEAD /blobs/<key> with Range, /health, /metrics, JSON errors with stable codes.

let volume: TestVolume;
let nextVersion = 1;

beforeAll(async () => {
  volume = await startTestVolume();
});

afterAll(async () => {
  await volume.cleanup();
});

function url(path: string): string {
  return `${volume.httpUrl}${path}`;
}

function errorCodeOf(body: Buffer): string {
  return (JSON.parse(body.toString()) as { error: { code: string } }).error.code;
}

describe("GET/HEAD /blobs/<key>", () => {
  const value = testValue(150_000);
  const key = "docs/2024/ü report.pdf";
  const path = `/blobs/docs/2024/%C3%BC%20report.pdf`;

  beforeAll(async () => {
    const txid = "http-1";
    await volume.client.prepare(
      { txid, key, size: value.bytes.length, crc32c: value.crc32c, contentType: "application/pdf" },
      chunksOf(value.bytes),
    );
    await volume.client.commit(txid, nextVersion++);
  });

  it("streams the value with Content-Length, ETag, Content-Type and Last-Modified", async () => {
    const answer = await httpRequest(url(path));
    expect(answer.status).toBe(200);
    expect(sha256Of(answer.body)).toBe(value.sha256);
    expect(answer.headers["content-length"]).toBe(String(value.bytes.length));
    expect(answer.headers["content-type"]).toBe("application/pdf");
    expect(answer.headers["etag"]).toBe(`"${value.crc32c.toString(16).padStart(8, "0")}"`);
    expect(Date.parse(String(answer.headers["last-modified"]))).toBeGreaterThan(Date.now() - 60_000);
    expect(answer.headers["accept-ranges"]).toBe("bytes");
  });

  it("HEAD answers the same headers without a body", async () => {
    const answer = await httpRequest(url(path), { method: "HEAD" });
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    expect(answer.headers["content-length"]).toBe(String(value.bytes.length));
  });

  it("answers Range with 206 and Content-Range", async () => {
    const middle = await httpRequest(url(path), { headers: { range: "bytes=65530-65545" } });
    expect(middle.status).toBe(206);
    expect(middle.headers["content-range"]).toBe(`bytes 65530-65545/${value.bytes.length}`);
    expect(middle.body.equals(value.bytes.subarray(65530, 65546))).toBe(true);
    const suffix = await httpRequest(url(path), { headers: { range: "bytes=-100" } });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(value.bytes.subarray(value.bytes.length - 100))).toBe(true);
  });

  it("answers an unsatisfiable Range with 416", async () => {
    const answer = await httpRequest(url(path), { headers: { range: `bytes=${value.bytes.length}-` } });
    expect(answer.status).toBe(416);
    expect(answer.headers["content-range"]).toBe(`bytes */${value.bytes.length}`);
    expect(errorCodeOf(answer.body)).toBe("RANGE_NOT_SATISFIABLE");
  });

  it("answers If-None-Match with 304", async () => {
    const etag = `"${value.crc32c.toString(16).padStart(8, "0")}"`;
    const answer = await httpRequest(url(path), { headers: { "if-none-match": etag } });
    expect(answer.status).toBe(304);
    expect(answer.body.length).toBe(0);
  });

  it("serves an empty value", async () => {
    await putValue(volume.client, "empty", testValue(0), nextVersion++);
    const answer = await httpRequest(url("/blobs/empty"));
    expect(answer.status).toBe(200);
    expect(answer.headers["content-length"]).toBe("0");
    const ranged = await httpRequest(url("/blobs/empty"), { headers: { range: "bytes=0-" } });
    expect(ranged.status).toBe(416);
  });
});

describe("HTTP errors (DESIGN.md §4)", () => {
  it.each([
    ["/blobs/", 400, "INVALID_KEY"],
    ["/blobs/%ZZ", 400, "INVALID_KEY"],
    ["/blobs/a%00b", 400, "INVALID_KEY"],
    ["/blobs/%C3%28", 400, "INVALID_KEY"],
    [`/blobs/${"x".repeat(1025)}`, 400, "INVALID_KEY"],
    ["/blobs/no/such/key", 404, "KEY_NOT_FOUND"],
    ["/nope", 404, "NOT_FOUND"],
    ["/blobs", 404, "NOT_FOUND"],
    ["/BLOBS/x", 404, "NOT_FOUND"],
  ])("GET %s → %i %s", async (path, status, code) => {
    const answer = await httpRequest(url(path));
    expect(answer.status).toBe(status);
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    expect(errorCodeOf(answer.body)).toBe(code);
  });

  it.each([
    ["PUT", "/blobs/x"],
    ["POST", "/blobs/x"],
    ["DELETE", "/blobs/x"],
    ["DELETE", "/health"],
    ["POST", "/metrics"],
  ])("%s %s → 405 METHOD_NOT_ALLOWED", async (method, path) => {
    const answer = await httpRequest(url(path), { method, body: "ignored" });
    expect(answer.status).toBe(405);
    expect(answer.headers["allow"]).toBe("GET, HEAD");
    expect(errorCodeOf(answer.body)).toBe("METHOD_NOT_ALLOWED");
  });

  it("HEAD of a missing key is 404 without a body", async () => {
    const answer = await httpRequest(url("/blobs/missing"), { method: "HEAD" });
    expect(answer.status).toBe(404);
    expect(answer.body.length).toBe(0);
  });
});

describe("/health and /metrics", () => {
  it("reports id and state", async () => {
    const answer = await httpRequest(url("/health"));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ id: "vol-test", state: "serving" });
  });

  it("exposes request, byte and 2PC counters in Prometheus text", async () => {
    await httpRequest(url("/blobs/empty"));
    const answer = await httpRequest(url("/metrics"));
    expect(answer.status).toBe(200);
    const text = answer.body.toString();
    expect(text).toMatch(/minikv_volume_http_requests_total\{[^}]*route="blobs"[^}]*\} \d+/);
    expect(text).toMatch(/minikv_volume_prepares_total\{[^}]*result="ok"[^}]*\} \d+/);
    expect(text).toMatch(/minikv_volume_commits_total\{[^}]*result="ok"[^}]*\} \d+/);
    expect(text).toContain("minikv_volume_http_sent_bytes_total");
    expect(text).toContain("minikv_volume_keys");
    expect(text).toContain("process_resident_memory_bytes");
  });
});

describe("corrupt data on disk is never served (issue 2 §2 Reads)", () => {
  it("refuses a value whose stored bytes were flipped, over HTTP and gRPC, and counts it", async () => {
    const value = testValue(256 * 1024);
    const key = "corrupt/victim";
    await putValue(volume.client, key, value, nextVersion++);
    const flipped = await flipStoredByte(volume.dir, value.bytes, 100_000);
    expect(flipped).toBeGreaterThan(0);

    const answer = await httpRequest(url(`/blobs/${key}`)).catch((err: Error) => err);
    if (!(answer instanceof Error)) {
      // Either the error came before the headers (JSON 500), or the connection was cut.
      expect(answer.status).toBe(500);
      expect(errorCodeOf(answer.body)).toBe("DATA_CORRUPT");
    }
    const viaGrpc = await readAll(volume.client.read(key)).catch((err: MinikvError) => err);
    expect(viaGrpc).toMatchObject({ code: "DATA_CORRUPT" });
    const checksum = await volume.client.checksum(key).catch((err: MinikvError) => err);
    if ("code" in checksum) expect(checksum.code).toBe("DATA_CORRUPT");
    else expect(checksum.crc32c).not.toBe(checksum.recordedCrc32c);

    // A range far from the damage may still be served: every byte of it checks out.
    const head = await httpRequest(url(`/blobs/${key}`), { headers: { range: "bytes=0-999" } });
    if (head.status === 206) expect(head.body.equals(value.bytes.subarray(0, 1000))).toBe(true);
    else expect(head.status).toBe(500);

    const metrics = (await httpRequest(url("/metrics"))).body.toString();
    expect(metrics).toMatch(/minikv_volume_corrupt_reads_total\{[^}]*\} [1-9]/);
  });
});
