import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FaultProxy, PASS } from "./fault-proxy.js";

/** An echo server that remembers its open sockets, so the test can count them. */
interface Echo {
  readonly server: Server;
  readonly port: number;
  readonly sockets: Set<Socket>;
}

async function startEcho(): Promise<Echo> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

/** A client socket with everything it received so far. */
interface Client {
  readonly socket: Socket;
  received: Buffer;
  error: NodeJS.ErrnoException | undefined;
  closed: boolean;
}

async function dial(port: number): Promise<Client> {
  const socket = connect({ host: "127.0.0.1", port });
  const client: Client = { socket, received: Buffer.alloc(0), error: undefined, closed: false };
  socket.on("data", (chunk: Buffer) => (client.received = Buffer.concat([client.received, chunk])));
  socket.on("error", (err) => (client.error = err));
  socket.on("close", () => (client.closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return client;
}

/** Polls `check` every 5 ms for at most `timeoutMs`; returns whether it became true. */
async function eventually(check: () => boolean, timeoutMs = 2_000): Promise<boolean> {
  for (let waitedMs = 0; waitedMs < timeoutMs; waitedMs += 5) {
    if (check()) return true;
    await sleep(5);
  }
  return check();
}

/** The fault-injecting TCP proxy the nemesis test puts on every internal link (issue 6). */
describe("FaultProxy", () => {
  let echo: Echo;
  let proxy: FaultProxy;
  const clients: Client[] = [];

  beforeEach(async () => {
    echo = await startEcho();
    proxy = await FaultProxy.start({ name: "test", targetHost: "127.0.0.1", targetPort: echo.port });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.socket.destroy();
    await proxy.close();
    await new Promise((resolve) => echo.server.close(resolve));
    for (const socket of echo.sockets) socket.destroy();
  });

  async function client(): Promise<Client> {
    const c = await dial(proxy.port);
    clients.push(c);
    return c;
  }

  it("passes bytes both ways unchanged", async () => {
    const c = await client();
    const payload = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
    c.socket.write(payload);
    expect(await eventually(() => c.received.byteLength === payload.byteLength)).toBe(true);
    expect(c.received.equals(payload)).toBe(true);
    expect(proxy.stats()).toMatchObject({ accepted: 1, open: 1, bytesUp: 200_000, bytesDown: 200_000 });
  });

  it("drop holds bytes back and hangs new connections; heal delivers them in order", async () => {
    const c = await client();
    c.socket.write("a");
    expect(await eventually(() => c.received.toString() === "a")).toBe(true);
    proxy.setMode({ kind: "drop" });
    c.socket.write("b");
    const late = await client();
    late.socket.write("x");
    await sleep(150);
    expect(c.received.toString()).toBe("a");
    expect(late.received.byteLength).toBe(0);
    expect(c.closed || late.closed).toBe(false);
    // The held-back connection has not reached the target yet.
    expect(echo.sockets.size).toBe(1);
    proxy.setMode(PASS);
    expect(await eventually(() => c.received.toString() === "ab")).toBe(true);
    expect(await eventually(() => late.received.toString() === "x")).toBe(true);
  });

  it("reset closes open connections with RST and resets new ones", async () => {
    const c = await client();
    c.socket.write("a");
    expect(await eventually(() => c.received.byteLength === 1)).toBe(true);
    proxy.setMode({ kind: "reset" });
    expect(await eventually(() => c.closed)).toBe(true);
    expect(c.error?.code).toBe("ECONNRESET");
    const late = dial(proxy.port);
    const refused = await late.then(
      async (l) => {
        clients.push(l);
        return eventually(() => l.closed);
      },
      () => true,
    );
    expect(refused).toBe(true);
    expect(await eventually(() => echo.sockets.size === 0)).toBe(true);
    expect(proxy.stats().resets).toBeGreaterThanOrEqual(2);
  });

  it("delay holds each chunk for the given time, in order", async () => {
    proxy.setMode({ kind: "delay", delayMs: 200 });
    const c = await client();
    const startMs = performance.now();
    c.socket.write("1");
    await sleep(20);
    c.socket.write("2");
    expect(await eventually(() => c.received.toString() === "12", 3_000)).toBe(true);
    // Up and down are each delayed: one round trip costs at least two delays.
    expect(performance.now() - startMs).toBeGreaterThanOrEqual(2 * 200 - 5);
  });

  it("slow limits the byte rate of each direction", async () => {
    proxy.setMode({ kind: "slow", bytesPerSecond: 20_000 });
    const c = await client();
    const startMs = performance.now();
    c.socket.write(Buffer.alloc(10_000, 7));
    expect(await eventually(() => c.received.byteLength === 10_000, 5_000)).toBe(true);
    const elapsedMs = performance.now() - startMs;
    // 10 kB at 20 kB/s: about half a second (the first second's tokens start at zero).
    expect(elapsedMs).toBeGreaterThanOrEqual(400);
    expect(elapsedMs).toBeLessThan(3_000);
  });

  it("stops reading when its bounded buffer is full instead of growing", async () => {
    await proxy.close();
    proxy = await FaultProxy.start({
      name: "bounded",
      targetHost: "127.0.0.1",
      targetPort: echo.port,
      config: { bufferBytesMax: 64 * 1024 },
    });
    proxy.setMode({ kind: "delay", delayMs: 60_000 });
    const c = await client();
    c.socket.write(Buffer.alloc(8 * 1024 * 1024, 1));
    await sleep(300);
    // The proxy took at most its bound plus one socket read; the rest waits at the sender.
    expect(proxy.stats().bytesUp).toBe(0);
    expect(proxy.stats().bufferedBytesPeak).toBeGreaterThanOrEqual(64 * 1024);
    expect(proxy.stats().bufferedBytesPeak).toBeLessThanOrEqual(64 * 1024 + 256 * 1024);
    expect(c.socket.writableLength).toBeGreaterThan(0);
  });

  it("close() destroys every connection, the target's side too", async () => {
    const a = await client();
    const b = await client();
    a.socket.write("x");
    b.socket.write("y");
    expect(await eventually(() => echo.sockets.size === 2)).toBe(true);
    await proxy.close();
    expect(await eventually(() => a.closed && b.closed)).toBe(true);
    expect(await eventually(() => echo.sockets.size === 0)).toBe(true);
    expect(proxy.stats().open).toBe(0);
    proxy = await FaultProxy.start({ name: "again", targetHost: "127.0.0.1", targetPort: echo.port });
  });

  it("resets the client when the target refuses, as a direct connection would", async () => {
    await new Promise((resolve) => echo.server.close(resolve));
    for (const socket of echo.sockets) socket.destroy();
    const c = await client();
    expect(await eventually(() => c.closed)).toBe(true);
    expect(c.error?.code).toBe("ECONNRESET");
    echo = await startEcho();
  });
});
