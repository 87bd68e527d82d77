import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { CoordinatorClient, blobPath, clientLimits } from "./coordinator-client.js";

const servers: Server[] = [];

/** A loopback HTTP server answering every request with `status` and `body`. */
async function answering(status: number, body: unknown): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    req.resume();
    req.on("end", () => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits };
}

/** A URL nobody listens on: a server that was bound then closed. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

describe("CoordinatorClient (DESIGN.md §3: try the next URL when one is down)", () => {
  it("fails over from a refused connection and from a 503 to a coordinator that answers", async () => {
    const unavailable = await answering(503, { error: { code: "NO_QUORUM", message: "no quorum" } });
    const ok = await answering(200, { hello: "world" });
    const client = new CoordinatorClient([await deadUrl(), unavailable.url, ok.url]);
    expect(await client.json({ method: "GET", path: "/v1/cluster", retryable: true })).toEqual({
      hello: "world",
    });
    expect(unavailable.hits()).toBe(1);
    // The coordinator that answered is tried first next time.
    await client.json({ method: "GET", path: "/v1/cluster", retryable: true });
    expect(unavailable.hits()).toBe(1);
    expect(ok.hits()).toBe(2);
  });

  it("turns JSON error answers into errors with the server's code", async () => {
    const missing = await answering(404, { error: { code: "KEY_NOT_FOUND", message: "no such key" } });
    const client = new CoordinatorClient([missing.url]);
    await expect(client.json({ method: "GET", path: "/v1/blobs/x", retryable: true })).rejects.toMatchObject({
      code: "KEY_NOT_FOUND",
      message: "no such key",
    });
  });

  it("reports UNAVAILABLE when every coordinator is down", async () => {
    const client = new CoordinatorClient([await deadUrl(), await deadUrl()]);
    await expect(client.request({ method: "GET", path: "/health", retryable: true })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
  });

  it("does not resend a non-retryable body after the first coordinator took it", async () => {
    const unavailable = await answering(503, { error: { code: "NO_QUORUM", message: "no quorum" } });
    const ok = await answering(201, {});
    const client = new CoordinatorClient([unavailable.url, ok.url]);
    const response = await client.request({
      method: "PUT",
      path: "/v1/blobs/k",
      body: "bytes",
      retryable: false,
    });
    expect(response.status).toBe(503);
    expect(ok.hits()).toBe(0);
  });

  it("encodes keys so URL parsers keep them intact", () => {
    expect(blobPath("a/b c/ü.pdf")).toBe("/v1/blobs/a/b%20c/%C3%BC.pdf");
    expect(new URL(`http://h${blobPath("a/../b")}`).pathname).toBe("/v1/blobs/a%2F..%2Fb");
    expect(
      decodeURIComponent(new URL(`http://h${blobPath("a/../b")}`).pathname.slice("/v1/blobs/".length)),
    ).toBe("a/../b");
    expect(blobPath("q?x#y%")).toBe("/v1/blobs/q%3Fx%23y%25");
  });
});

/** A loopback server running `handler`; resolves with its base URL. */
async function serving(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  port = 0,
): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Ports the WHATWG fetch spec blocks (https://fetch.spec.whatwg.org/#port-blocking). */
const FETCH_BAD_PORTS = [6000, 6665, 6666, 6667, 6668, 6669, 5060, 5061, 6566, 6697, 10080, 4190];

/** A server on the first fetch-blocked port that is free here. */
async function servingOnBadPort(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  for (const port of FETCH_BAD_PORTS) {
    try {
      return await serving(handler, port);
    } catch {
      // In use: try the next blocked port.
    }
  }
  throw new Error(`every fetch-blocked port is in use: ${FETCH_BAD_PORTS.join(",")}`);
}

/** A lazily generated body of `totalBytes`, counting what has been pulled from it. */
function countedSource(
  totalBytes: number,
  chunkBytes = 64 * 1024,
): { source: Readable; produced: () => number } {
  let produced = 0;
  const chunk = Buffer.alloc(chunkBytes, 7);
  const source = new Readable({
    read() {
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      const n = Math.min(chunkBytes, totalBytes - produced);
      produced += n;
      this.push(chunk.subarray(0, n));
    },
  });
  return { source, produced: () => produced };
}

describe("CoordinatorClient over node:http (issue 5 §1: --coordinator takes any port)", () => {
  it("talks to a coordinator on a port fetch refuses", async () => {
    const url = await servingOnBadPort((_req, res) => res.end(JSON.stringify({ ok: true })));
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    const client = new CoordinatorClient([url]);
    expect(await client.json({ method: "GET", path: "/health", retryable: true })).toEqual({ ok: true });
  });

  it("follows a NOT_LEADER answer's leaderUrl before trying the other coordinators", async () => {
    let otherHits = 0;
    let leaderHits = 0;
    const other = await serving((_req, res) => {
      otherHits++;
      res.end("{}");
    });
    const leader = await serving((_req, res) => {
      leaderHits++;
      res.end(JSON.stringify({ from: "leader" }));
    });
    const follower = await serving((_req, res) => {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error: { code: "NOT_LEADER", message: "not the leader", leaderUrl: leader } }),
      );
    });
    const client = new CoordinatorClient([follower, other, leader]);
    expect(await client.json({ method: "POST", path: "/v1/admin/verify", retryable: true })).toEqual({
      from: "leader",
    });
    expect({ otherHits, leaderHits }).toEqual({ otherHits: 0, leaderHits: 1 });
  });

  it("streams a PUT body with backpressure: a server that stops reading stops the source", async () => {
    const totalBytes = 64 * 1024 * 1024;
    let received = 0;
    const digest = createHash("sha256");
    let pausedAt: Promise<void> | undefined;
    const url = await serving((req, res) => {
      req.on("data", (chunk: Buffer) => {
        received += chunk.length;
        digest.update(chunk);
        if (pausedAt === undefined && received >= 1024 * 1024) {
          req.pause();
          pausedAt = sleep(500).then(() => void req.resume());
        }
      });
      req.on("end", () => res.writeHead(201).end(JSON.stringify({ size: received })));
    });
    const { source, produced } = countedSource(totalBytes);
    const answer = new CoordinatorClient([url]).json<{ size: number }>({
      method: "PUT",
      path: "/v1/blobs/big",
      body: () => source,
      retryable: false,
    });
    await sleep(300);
    // While the server reads nothing, only the socket buffers and one pipe window fill up.
    expect(pausedAt).toBeDefined();
    expect(produced()).toBeLessThan(16 * 1024 * 1024);
    expect(await answer).toEqual({ size: totalBytes });
    expect(digest.digest("hex")).toBe(createHash("sha256").update(Buffer.alloc(totalBytes, 7)).digest("hex"));
  });

  it("streams a GET body with backpressure: a reader that stops stops the server's writes", async () => {
    const totalBytes = 64 * 1024 * 1024;
    let written = 0;
    const url = await serving((_req, res) => {
      res.writeHead(200, { "content-length": String(totalBytes) });
      const { source } = countedSource(totalBytes);
      source.on("data", (chunk: Buffer) => (written += chunk.length));
      source.pipe(res);
    });
    const response = await new CoordinatorClient([url]).requestOk({
      method: "GET",
      path: "/v1/blobs/big",
      retryable: true,
    });
    const reader = (response.body as WebReadableStream<Uint8Array>).getReader();
    let read = (await reader.read()).value?.length ?? 0;
    await sleep(300);
    const bound = clientLimits.responseQueueBytesMax + 16 * 1024 * 1024;
    expect(written).toBeLessThan(bound);
    for (let step = 0; step < totalBytes; step++) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.length;
    }
    expect(read).toBe(totalBytes);
  });

  it("aborts the upload when the body source fails, so the server sees a short body", async () => {
    let settle: (outcome: string) => void = () => undefined;
    const serverSaw = new Promise<string>((resolve) => (settle = resolve));
    const url = await serving((req) => {
      req.on("end", () => settle("whole body"));
      req.on("close", () => settle(req.complete ? "whole body" : "aborted"));
      req.resume();
    });
    let sent = 0;
    const failing = new Readable({
      read() {
        sent++;
        if (sent <= 16) this.push(Buffer.alloc(64 * 1024));
        // Fails once the server has been reached and has read part of the body.
        else setTimeout(() => this.destroy(new Error("disk read failed")), 50);
      },
    });
    const client = new CoordinatorClient([url]);
    await expect(
      client.request({
        method: "PUT",
        path: "/v1/blobs/k",
        headers: { "content-length": String(64 * 1024 * 1024) },
        body: () => failing,
        retryable: false,
      }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE", message: `${url}: disk read failed` });
    expect(await serverSaw).toBe("aborted");
  });

  it("gives HEAD and 204 answers their headers and no body", async () => {
    const url = await serving((req, res) => {
      if (req.method === "HEAD") res.writeHead(200, { "content-length": "1234", etag: '"e1"' }).end();
      else res.writeHead(204).end();
    });
    const client = new CoordinatorClient([url]);
    const head = await client.request({ method: "HEAD", path: "/v1/blobs/k", retryable: true });
    expect([head.status, head.headers.get("content-length"), head.headers.get("etag"), head.body]).toEqual([
      200,
      "1234",
      '"e1"',
      null,
    ]);
    const deleted = await client.request({ method: "DELETE", path: "/v1/blobs/k", retryable: true });
    expect([deleted.status, deleted.body]).toEqual([204, null]);
  });

  it("fails over from an answer a web Response cannot carry (status 600) rather than throwing it out of the call", async () => {
    const odd = await serving((_req, res) => res.writeHead(600).end("?"));
    const ok = await serving((_req, res) => res.end(JSON.stringify({ ok: 1 })));
    const client = new CoordinatorClient([odd, ok]);
    expect(await client.json({ method: "GET", path: "/health", retryable: true })).toEqual({ ok: 1 });
    const alone = new CoordinatorClient([odd]);
    await expect(alone.request({ method: "GET", path: "/health", retryable: true })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
  });

  it("times out a coordinator that never answers and moves on", async () => {
    const silent = await serving(() => undefined);
    const ok = await serving((_req, res) => res.end(JSON.stringify({ ok: 1 })));
    const client = new CoordinatorClient([silent, ok]);
    expect(await client.json({ method: "GET", path: "/health", retryable: true, timeoutMs: 200 })).toEqual({
      ok: 1,
    });
    const alone = new CoordinatorClient([silent]);
    await expect(
      alone.request({ method: "GET", path: "/health", retryable: true, timeoutMs: 200 }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE", message: `${silent}: timed out` });
  });
});
