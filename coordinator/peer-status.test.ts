import { afterEach, describe, expect, it } from "vitest";
import type * as grpc from "@grpc/grpc-js";
import { ErrorCode } from "../common/errors.js";
import type { ClusterRole } from "./coord-node.js";
import { PeerStatusClient, addPeerStatusService, type SelfReport } from "./peer-status.js";
import { startGrpcServer, stopGrpcServer } from "./raft/grpc-transport.js";

const servers: grpc.Server[] = [];
const clients: PeerStatusClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await stopGrpcServer(server, 100);
});

/** A peer answering CoordinatorPeer.Status with `role` as its Raft role. */
async function peerReporting(role: string): Promise<string> {
  const self: SelfReport = {
    status: () => ({
      id: "c2",
      role: role as ClusterRole,
      term: 3,
      leader: "c2",
      commitIndex: 10,
      appliedIndex: 10,
    }),
    httpUrl: "http://127.0.0.1:1",
    grpcAddress: "127.0.0.1:2",
    liveVolumes: () => [],
  };
  const { server, port } = await startGrpcServer("127.0.0.1:0", (s) => addPeerStatusService(s, () => self));
  servers.push(server);
  return `127.0.0.1:${port}`;
}

function client(): PeerStatusClient {
  const c = new PeerStatusClient("c1");
  clients.push(c);
  return c;
}

describe("PeerStatusClient (CoordinatorPeer.Status)", () => {
  it("decodes a peer's status", async () => {
    const status = await client().status(await peerReporting("leader"), 2_000);
    expect(status).toMatchObject({ id: "c2", role: "leader", term: 3, commitIndex: 10, leader: "c2" });
  });

  it("rejects UNAVAILABLE when a peer reports a role it does not know, rather than throwing it out of the call", async () => {
    const status = client().status(await peerReporting("witness"), 2_000);
    await expect(status).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
  }, 10_000);
});
