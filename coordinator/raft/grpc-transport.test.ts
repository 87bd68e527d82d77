import type * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { GrpcTransport, startGrpcServer, stopGrpcServer } from "./grpc-transport.js";
import type { Transport } from "./transport.js";
import { describeTransport } from "./transport.conformance.js";

interface Node {
  readonly transport: GrpcTransport;
  readonly server: grpc.Server;
  readonly address: string;
}

async function startNode(id: string): Promise<Node> {
  // The real address is known only once bound; a placeholder is replaced right after.
  let transport = new GrpcTransport({ localId: id, localAddress: "" });
  const holder = { current: transport };
  const { server, port } = await startGrpcServer("127.0.0.1:0", (s) => holder.current.addTo(s));
  transport = holder.current;
  return { transport, server, address: `127.0.0.1:${port}` };
}

describeTransport("GrpcTransport", () => {
  const nodes: Node[] = [];
  return Promise.resolve({
    create: async (ids: readonly string[]): Promise<Transport[]> => {
      const created = await Promise.all(ids.map(startNode));
      nodes.push(...created);
      for (const node of created)
        for (const [i, other] of created.entries()) node.transport.setPeer(ids[i] ?? "", other.address);
      return created.map((n) => n.transport);
    },
    cleanup: async () => {
      for (const node of nodes) {
        await node.transport.close();
        await stopGrpcServer(node.server, 100);
      }
    },
  });
});

describe("GrpcTransport identity", () => {
  it("tells its id to a peer that only knows its address (--peers HOST:PORT)", async () => {
    const a = await startNode("coord-a");
    const b = await startNode("coord-b");
    try {
      expect(await b.transport.identify(a.address, 2000)).toBe("coord-a");
      await expect(b.transport.identify("127.0.0.1:1", 500)).rejects.toThrowError(
        expect.objectContaining({ code: expect.stringMatching(/UNAVAILABLE|TIMEOUT/) as string }) as Error,
      );
    } finally {
      for (const node of [a, b]) {
        await node.transport.close();
        await stopGrpcServer(node.server, 100);
      }
    }
  });
});
