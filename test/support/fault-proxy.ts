import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * What a proxied link does to the bytes crossing it.
 * - pass: forward as they come.
 * - drop: a partition. Nothing is delivered in either direction and connections hang; new
 *   connections are accepted but never reach the target. Bytes are held back (reading stops,
 *   so the sender's kernel buffers fill and its writes stall), not thrown away: a healed
 *   partition delivers them in order, as TCP retransmission would. Discarding bytes in the
 *   middle of a stream would model corruption, not a network fault.
 * - reset: every open connection is reset (RST) and new ones are reset on accept.
 * - delay: each chunk is delivered `delayMs` after it arrived, in order.
 * - slow: at most `bytesPerSecond` per direction of each connection.
 */
export type LinkMode =
  | { readonly kind: "pass" }
  | { readonly kind: "drop" }
  | { readonly kind: "reset" }
  | { readonly kind: "delay"; readonly delayMs: number }
  | { readonly kind: "slow"; readonly bytesPerSecond: number };

export const PASS: LinkMode = { kind: "pass" };

/** Bounds of one proxy. */
export interface FaultProxyConfig {
  /** Bytes one direction of one connection holds (delayed or throttled) before it stops reading. */
  readonly bufferBytesMax: number;
  /** Open connections at once; more are reset on accept. */
  readonly connectionsMax: number;
}

export const faultProxyDefaults: FaultProxyConfig = {
  bufferBytesMax: 1024 * 1024,
  connectionsMax: 256,
};

export interface FaultProxyOptions {
  /** Names the link in schedules and errors, e.g. "coord-1->coord-2". */
  readonly name: string;
  readonly targetHost: string;
  readonly targetPort: number;
  /** Where to listen; default 127.0.0.1 and port 0. */
  readonly listenHost?: string;
  readonly listenPort?: number;
  readonly config?: Partial<FaultProxyConfig>;
}

/** Counters of one proxy since it started. */
export interface FaultProxyStats {
  readonly accepted: number;
  readonly open: number;
  readonly resets: number;
  /** Bytes delivered client→target and target→client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** The most bytes one direction of one connection ever held (bounded by bufferBytesMax plus one read). */
  readonly bufferedBytesPeak: number;
}

/** A chunk waiting in one direction, with the time it may be delivered (delay mode). */
interface Queued {
  chunk: Buffer;
  readonly dueMs: number;
}

/**
 * One direction of one connection: a bounded queue between a source and a destination
 * socket, pumped according to the proxy's current mode. Reading stops whenever the queue
 * is over its bound or the link drops, so memory stays bounded whatever the peers do.
 */
class Direction {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  /** slow mode: bytes that may still be sent, refilled by elapsed time. */
  private tokens = 0;
  private tokensAtMs = performance.now();

  constructor(
    private readonly source: Socket,
    private readonly dest: Socket,
    private readonly proxy: FaultProxy,
    private readonly count: (bytes: number) => void,
  ) {
    source.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    const mode = this.proxy.mode;
    const delayMs = mode.kind === "delay" ? mode.delayMs : 0;
    this.queue.push({ chunk, dueMs: performance.now() + delayMs });
    this.queuedBytes += chunk.byteLength;
    this.proxy.noteBuffered(this.queuedBytes);
    if (this.queuedBytes >= this.proxy.config.bufferBytesMax) this.source.pause();
    this.pump();
  }

  /** Delivers what the mode allows now and schedules the rest. Safe to call at any time. */
  pump(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dest.destroyed || this.waitingDrain) return;
    const mode = this.proxy.mode;
    if (mode.kind === "drop" || mode.kind === "reset") {
      this.source.pause();
      return;
    }
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const waitMs = this.waitBeforeSending(mode, head);
      if (waitMs > 0) {
        this.timer = setTimeout(() => this.pump(), waitMs);
        return;
      }
      const piece = this.take(mode, head);
      this.count(piece.byteLength);
      if (!this.dest.write(piece)) {
        this.waitingDrain = true;
        this.dest.once("drain", () => {
          this.waitingDrain = false;
          this.pump();
        });
        return;
      }
    }
    if (this.queuedBytes < this.proxy.config.bufferBytesMax && !this.source.destroyed) this.source.resume();
  }

  private waitBeforeSending(mode: LinkMode, head: Queued): number {
    const nowMs = performance.now();
    if (mode.kind === "delay") return Math.max(0, Math.ceil(head.dueMs - nowMs));
    if (mode.kind !== "slow") return 0;
    const rate = Math.max(1, mode.bytesPerSecond);
    // At most one second's worth accumulates, so a pause does not become a burst.
    this.tokens = Math.min(rate, this.tokens + ((nowMs - this.tokensAtMs) * rate) / 1000);
    this.tokensAtMs = nowMs;
    return this.tokens >= 1 ? 0 : Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate));
  }

  /** Removes and returns what may go now: the whole head chunk, or (slow) as much as the tokens allow. */
  private take(mode: LinkMode, head: Queued): Buffer {
    let piece = head.chunk;
    if (mode.kind === "slow" && piece.byteLength > this.tokens) {
      piece = head.chunk.subarray(0, Math.max(1, Math.floor(this.tokens)));
      head.chunk = head.chunk.subarray(piece.byteLength);
    } else {
      this.queue.shift();
    }
    if (mode.kind === "slow") this.tokens -= piece.byteLength;
    this.queuedBytes -= piece.byteLength;
    return piece;
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }
}

/** One client connection and, once the link lets it through, its connection to the target. */
class ProxiedConnection {
  private upstream: Socket | undefined;
  private readonly directions: Direction[] = [];
  private closed = false;

  constructor(
    readonly client: Socket,
    private readonly proxy: FaultProxy,
    private readonly onClosed: (conn: ProxiedConnection) => void,
  ) {
    client.pause();
    client.on("error", () => this.close());
    client.on("close", () => this.close());
  }

  /** Connects to the target unless the link drops (then it waits for heal()). */
  advance(): void {
    if (this.closed) return;
    const mode = this.proxy.mode;
    if (mode.kind === "reset") {
      this.reset();
      return;
    }
    if (this.upstream === undefined) {
      if (mode.kind === "drop") return;
      this.connectUpstream();
    }
    for (const direction of this.directions) direction.pump();
  }

  private connectUpstream(): void {
    const upstream = connect({ host: this.proxy.targetHost, port: this.proxy.targetPort });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    this.client.setNoDelay(true);
    // A refused or failed target looks to the client like a reset, as it would without the proxy.
    upstream.on("error", () => this.reset());
    upstream.on("close", () => this.close());
    this.directions.push(
      new Direction(this.client, upstream, this.proxy, (n) => this.proxy.countUp(n)),
      new Direction(upstream, this.client, this.proxy, (n) => this.proxy.countDown(n)),
    );
    for (const direction of this.directions) direction.pump();
  }

  reset(): void {
    if (this.closed) return;
    this.proxy.countReset();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.upstream !== undefined && !this.upstream.destroyed) this.upstream.resetAndDestroy();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const direction of this.directions) direction.stop();
    this.client.destroy();
    this.upstream?.destroy();
    this.onClosed(this);
  }
}

/**
 * A TCP proxy on loopback in front of one target address whose behaviour (LinkMode) can be
 * changed at any time. Every buffer is bounded (FaultProxyConfig), and close() destroys every
 * socket it opened.
 */
export class FaultProxy {
  readonly name: string;
  readonly targetHost: string;
  readonly targetPort: number;
  readonly config: FaultProxyConfig;
  private readonly server: Server;
  private readonly connections = new Set<ProxiedConnection>();
  private currentMode: LinkMode = PASS;
  private counters = { accepted: 0, resets: 0, bytesUp: 0, bytesDown: 0, bufferedBytesPeak: 0 };

  private constructor(options: FaultProxyOptions, server: Server) {
    this.name = options.name;
    this.targetHost = options.targetHost;
    this.targetPort = options.targetPort;
    this.config = { ...faultProxyDefaults, ...options.config };
    this.server = server;
    server.on("connection", (socket) => this.accept(socket));
  }

  /** Listens (default 127.0.0.1, port 0) and forwards to the target in "pass" mode. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ pauseOnConnect: true });
    const proxy = new FaultProxy(options, server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.listenPort ?? 0, options.listenHost ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return proxy;
  }

  /** The address clients dial. */
  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** "host:port" clients dial. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get mode(): LinkMode {
    return this.currentMode;
  }

  /** Changes what the link does, for open connections too. */
  setMode(mode: LinkMode): void {
    this.currentMode = mode;
    for (const conn of [...this.connections]) conn.advance();
  }

  stats(): FaultProxyStats {
    return { ...this.counters, open: this.connections.size };
  }

  /** Stops listening and destroys every connection; resolves once the listener is closed. */
  async close(): Promise<void> {
    for (const conn of [...this.connections]) conn.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  countUp(bytes: number): void {
    this.counters.bytesUp += bytes;
  }

  countDown(bytes: number): void {
    this.counters.bytesDown += bytes;
  }

  noteBuffered(bytes: number): void {
    this.counters.bufferedBytesPeak = Math.max(this.counters.bufferedBytesPeak, bytes);
  }

  countReset(): void {
    this.counters.resets++;
  }

  private accept(socket: Socket): void {
    this.counters.accepted++;
    socket.on("error", () => socket.destroy());
    if (this.connections.size >= this.config.connectionsMax || this.currentMode.kind === "reset") {
      this.counters.resets++;
      socket.resetAndDestroy();
      return;
    }
    const conn = new ProxiedConnection(socket, this, (c) => this.connections.delete(c));
    this.connections.add(conn);
    conn.advance();
  }
}
