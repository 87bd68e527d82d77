import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CoordinatorClient, blobPath } from "./coordinator-client.js";

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
