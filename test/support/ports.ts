import { createServer, type Server } from "node:net";

/**
 * Asks the OS for `count` distinct free TCP ports on 127.0.0.1. All listeners stay open
 * until every port is known, so the ports differ; another process may still take one
 * before the caller binds it (rare; the caller's start-up then fails loudly).
 * Use port 0 instead wherever the address need not be known in advance.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(await listenOnAnyPort(server));
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

function listenOnAnyPort(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") reject(new Error("no TCP address"));
      else resolve(address.port);
    });
  });
}
