import { Agent, createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { httpRequest } from "../test/support/http-client.js";
import { closeHttpServer } from "./http-close.js";

const GRACE_MS = 60_000;
const servers: Server[] = [];
const agents: Agent[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) server.closeAllConnections();
  for (const agent of agents.splice(0)) agent.destroy();
});

/** A server that answers `/slow` after `slowMs` and anything else after 20 ms. */
async function startServer(slowMs: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.url === "/slow") setTimeout(() => res.end("slow answer"), slowMs);
    else setTimeout(() => res.end("ok"), 20);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

it("closes a keep-alive connection that keeps asking as soon as it is idle, not after the grace period", async () => {
  const { server, url } = await startServer(0);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  expect((await httpRequest(`${url}/health`, { agent })).status).toBe(200);
  let asking = true;
  const answers: number[] = [];
  const prober = (async () => {
    for (let i = 0; asking && i < 1_000; i++) {
      const answer = await httpRequest(`${url}/health`, { agent, timeoutMs: 2_000 }).catch(() => null);
      answers.push(answer?.status ?? 0);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  // The connection is busy four fifths of the time (20 ms answers, 5 ms pauses), so the close
  // most likely begins while it is not idle.
  await new Promise((r) => setTimeout(r, 110));
  const closed = closeHttpServer(server, GRACE_MS).then(() => "closed");
  const outcome = await Promise.race([closed, new Promise((r) => setTimeout(() => r("still open"), 10_000))]);
  asking = false;
  await prober;
  expect(outcome).toBe("closed");
  expect(server.listening).toBe(false);
  expect(answers).toContain(200);
});

it("lets a request in flight finish within the grace period", async () => {
  const { server, url } = await startServer(300);
  const slow = httpRequest(`${url}/slow`);
  await new Promise((r) => setTimeout(r, 50));
  await closeHttpServer(server, GRACE_MS);
  const answer = await slow;
  expect(answer.status).toBe(200);
  expect(answer.body.toString()).toBe("slow answer");
});

it("cuts what is still running when the grace period ends", async () => {
  const { server, url } = await startServer(30_000);
  const slow = httpRequest(`${url}/slow`, { timeoutMs: 20_000 }).then(
    () => "answered",
    () => "cut",
  );
  await new Promise((r) => setTimeout(r, 50));
  await closeHttpServer(server, 200);
  expect(await slow).toBe("cut");
});
