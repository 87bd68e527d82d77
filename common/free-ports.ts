import { randomInt } from "node:crypto";
import { createServer, type Server } from "node:net";

/**
 * Free loopback ports for servers whose address must be known before they start (test
 * clusters that restart a node on the same address, the Raft driver benchmark). Ports
 * handed out come from below Linux's ephemeral range (32768–60999 by default): a port
 * the OS picks for `listen(0)` is also one it may pick a moment later as the local port of
 * an outgoing connection, which then makes the server that was meant to bind it fail with
 * EADDRINUSE. Below that range only an explicit bind takes a port.
 */
const PORT_MIN = 20_000;
const PORT_MAX = 32_000;
/** Random candidates tried per port wanted before giving up. */
const TRIES_PER_PORT = 50;

/**
 * `count` distinct free TCP ports on 127.0.0.1, each proved free by listening on it. All
 * listeners stay open until every port is known, so the ports differ; another test process
 * may still take one before the caller binds it (unlikely: candidates are random in a range
 * no connection uses). Use port 0 instead wherever the address need not be known in advance.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let tries = 0; ports.length < count; tries++) {
      if (tries >= count * TRIES_PER_PORT)
        throw new Error(`no ${count} free ports in ${PORT_MIN}-${PORT_MAX}`);
      const port = randomInt(PORT_MIN, PORT_MAX);
      if (ports.includes(port)) continue;
      const server = createServer();
      if (await listenOn(server, port)) {
        servers.push(server);
        ports.push(port);
      }
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
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
