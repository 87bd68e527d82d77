import { randomInt } from "node:crypto";
import { createServer, type Server } from "node:net";

/**
 * Free loopback ports for servers whose address must be known before they start (test
 * clusters that restart a node on the same address, the Raft driver benchmark). Ports
 * handed out come from below Linux's ephemeral range (32768–60999 by default): a port
 * the OS picks for `listen(0)` is also one it may pick a moment later as the local port of
 * an outgoing connection, which then makes the server that was meant to bind it fail with
 * EADDRINUSE. Below that range only an explicit bind takes a port.
 *
 * A port is proved free by listening on it, then closed for the server that will bind it:
 * until that server has started, another process could prove it free too. Test files run
 * in parallel workers, so each worker draws from a slice of the range of its own (vitest's
 * `VITEST_POOL_ID`), and one process never hands out a port it handed out recently.
 */
const PORT_MIN = 20_000;
const PORT_MAX = 32_000;
/** Slices of the range, one per test worker id (1-based, taken modulo the count). */
const WORKER_SLICES = 8;
/** Random candidates tried per port wanted before giving up. */
const TRIES_PER_PORT = 50;
/** Ports handed out lately by this process, not handed out again (oldest first). */
const RECENT_MAX = 512;
const recent: number[] = [];

/** [min, max) of the ports this process draws from: its worker's slice, or the whole range. */
export function portRange(env: NodeJS.ProcessEnv = process.env): readonly [number, number] {
  const worker = Number(env["VITEST_POOL_ID"]);
  if (!Number.isSafeInteger(worker) || worker < 1) return [PORT_MIN, PORT_MAX];
  const width = Math.floor((PORT_MAX - PORT_MIN) / WORKER_SLICES);
  const min = PORT_MIN + ((worker - 1) % WORKER_SLICES) * width;
  return [min, min + width];
}

/**
 * `count` distinct free TCP ports on 127.0.0.1, each proved free by listening on it. All
 * listeners stay open until every port is known, so the ports differ; none of them was
 * handed out by this process among its last RECENT_MAX ports. Another process may still take
 * one before the caller binds it (unlikely: candidates are random in a range no connection
 * uses, and parallel test workers draw from separate slices of it). Use port 0 instead
 * wherever the address need not be known in advance.
 */
export async function freePorts(count: number): Promise<number[]> {
  const [min, max] = portRange();
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let tries = 0; ports.length < count; tries++) {
      if (tries >= count * TRIES_PER_PORT) throw new Error(`no ${count} free ports in ${min}-${max - 1}`);
      const port = randomInt(min, max);
      if (ports.includes(port) || recent.includes(port)) continue;
      const server = createServer();
      if (await listenOn(server, port)) {
        servers.push(server);
        ports.push(port);
      }
    }
    remember(ports);
    return ports;
  } finally {
    await closeAll(servers);
  }
}

/**
 * The first of `count` consecutive free ports (for a program that takes a base port and
 * counts up from it, as `minikv dev` does), proved free together as freePorts' are.
 */
export async function freePortRun(count: number): Promise<number> {
  const [min, max] = portRange();
  for (let tries = 0; tries < TRIES_PER_PORT; tries++) {
    const base = randomInt(min, max - count);
    const run = Array.from({ length: count }, (_, i) => base + i);
    if (run.some((port) => recent.includes(port))) continue;
    const servers: Server[] = [];
    try {
      let free = true;
      for (const port of run) {
        const server = createServer();
        if (!(await listenOn(server, port))) {
          free = false;
          break;
        }
        servers.push(server);
      }
      if (free) {
        remember(run);
        return base;
      }
    } finally {
      await closeAll(servers);
    }
  }
  throw new Error(`no ${count} consecutive free ports in ${min}-${max - 1}`);
}

/** Notes ports handed out, so that this process does not hand them out again soon. */
function remember(ports: readonly number[]): void {
  recent.push(...ports);
  recent.splice(0, Math.max(0, recent.length - RECENT_MAX));
}

function closeAll(servers: readonly Server[]): Promise<unknown> {
  return Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
}

/** True once `server` listens on `port`; false when the port is taken. */
function listenOn(server: Server, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE" || err.code === "EACCES") resolve(false);
      else reject(err);
    });
    server.listen(port, "127.0.0.1", () => resolve(true));
  });
}
