import type * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { GrpcTransport, startGrpcServer, stopGrpcServer } from "./grpc-transport.js";
import type { Transport } from "./transport.js";
import { blankMessage, describeTransport } from "./transport.conformance.js";

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

describe("GrpcTransport message streams", () => {
  const handlerOf = (messages: string[]) => ({
    onMessage: (m: { type: string; from: string }) => messages.push(`${m.type} from ${m.from}`),
    onSnapshot: () => Promise.resolve(),
    onUnreachable: () => undefined,
  });

  it("reaches a peer again on a new stream after it restarted at the same address, and closing ends inbound streams so its server stops at once", async () => {
    const a = await startNode("a");
    let b = await startNode("b");
    const received: string[] = [];
    const base = { term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false };
    const message = {
      ...base,
      type: "heartbeat" as const,
      from: "a",
      to: "b",
      rejectHint: 0,
      rejectTermHint: 0,
      snapshot: null,
      context: new Uint8Array(),
    };
    const wait = async (n: number): Promise<void> => {
      for (let i = 0; i < 200 && received.length < n; i++) {
        a.transport.send(message);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    try {
      await a.transport.start(handlerOf([]));
      await b.transport.start(handlerOf(received));
      a.transport.setPeer("b", b.address);
      await wait(1);
      expect(received.length).toBeGreaterThan(0);
      // b goes away while a's stream to it is open: closing b's transport ends that stream,
      // so b's server shuts down without waiting out its grace period.
      await b.transport.close();
      const startedMs = performance.now();
      await stopGrpcServer(b.server, 5_000);
      expect(performance.now() - startedMs).toBeLessThan(2_000);
      // b comes back on the same port: a's next sends open a new stream.
      const port = Number(b.address.split(":")[1]);
      const transport = new GrpcTransport({ localId: "b", localAddress: b.address });
      const { server } = await startGrpcServer(`127.0.0.1:${port}`, (s) => transport.addTo(s));
      b = { transport, server, address: b.address };
      const before = received.length;
      await b.transport.start(handlerOf(received));
      await wait(before + 1);
      expect(received.length).toBeGreaterThan(before);
    } finally {
      for (const node of [a, b]) {
        await node.transport.close();
        await stopGrpcServer(node.server, 100);
      }
    }
  });

  it("keeps no listener per time a long-lived stream fills up (no MaxListenersExceeded warning)", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    let received = 0;
    try {
      await a.transport.start(handlerOf([]));
      await b.transport.start({ ...handlerOf([]), onMessage: () => void (received += 1) });
      a.transport.setPeer("b", b.address);
      const entry = { term: 1, index: 1, type: "normal" as const, data: new Uint8Array(256 * 1024) };
      const message = blankMessage("append", "a", "b", { term: 1, entries: [entry] });
      // Bursts far larger than the HTTP/2 window, each drained before the next: the one
      // stream to b blocks and drains again and again.
      const bursts = 15;
      const perBurst = 16;
      for (let burst = 1; burst <= bursts; burst++) {
        for (let i = 0; i < perBurst; i++) a.transport.send(message);
        for (let wait = 0; wait < 500 && received < burst * perBurst; wait++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      expect(received).toBe(bursts * perBurst);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.startsWith("MaxListenersExceeded"))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      for (const node of [a, b]) {
        await node.transport.close();
        await stopGrpcServer(node.server, 100);
      }
    }
  });
});
