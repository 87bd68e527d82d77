import { once } from "node:events";
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import { grpcChannelOptions, loadProto, serverWindows } from "../common/grpc.js";
import { crc32c } from "../common/hashing.js";
import { PIPE_VALUE_BYTES_MAX, VolumeClient } from "../common/volume-client.js";
import type { ProtoGrpcType } from "../proto/generated/volume.js";
import type { PipeReplies } from "../proto/generated/minikv/volume/v1/PipeReplies.js";
import type { PipeRequest__Output } from "../proto/generated/minikv/volume/v1/PipeRequest.js";
import type { PipeRequests__Output } from "../proto/generated/minikv/volume/v1/PipeRequests.js";
import type { VolumeHandlers } from "../proto/generated/minikv/volume/v1/Volume.js";
import { startTestVolume, testValue, type TestVolume } from "./volume-fixture.js";

// The Pipe call (proto/volume.proto): whole-value prepares, commits, aborts, deletes and small
// reads share one stream per client. Each must behave exactly as its own RPC does, and a pipe
// that breaks or stalls must fail its requests promptly instead of hanging them.

let volume: TestVolume;
let nextVersion = 1;

beforeAll(async () => {
  volume = await startTestVolume();
});

afterAll(async () => {
  await volume.cleanup();
});

function header(txid: string, key: string, size: number) {
  return { txid, key, size, crc32c: 0, crc32cUnknown: true };
}

describe("volume Pipe: small calls on one stream", () => {
  it("carries 200 concurrent prepare → commit → read round trips, byte-exact", async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const value = testValue(1 + ((i * 997) % 9000));
        const key = `pipe/many/${i}`;
        const vote = await volume.client.prepare(header(`pm-${i}`, key, value.bytes.length), [value.bytes]);
        expect(vote).toMatchObject({ txid: `pm-${i}`, size: value.bytes.length, crc32c: value.crc32c });
        const version = nextVersion++;
        await volume.client.commit(`pm-${i}`, version);
        const back = await volume.client.readRange(key, { offset: 0, length: value.bytes.length, version });
        return Buffer.compare(back, value.bytes);
      }),
    );
    expect(results.every((c) => c === 0)).toBe(true);
    expect(volume.server.store.stats().keys).toBeGreaterThanOrEqual(200);
  });

  it("answers with the same stable codes as the unary calls", async () => {
    await expect(volume.client.commit("pipe-never-prepared", 1)).rejects.toMatchObject({
      code: ErrorCode.TX_NOT_FOUND,
    });
    await expect(volume.client.readRange("pipe/absent", { offset: 0, length: 10 })).rejects.toMatchObject({
      code: ErrorCode.KEY_NOT_FOUND,
    });
    await expect(
      volume.client.prepare(header("pipe-bad-key", "", 3), [Buffer.from("abc")]),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_KEY });
    // A declared size the value does not have is refused, and nothing stays prepared.
    await expect(
      volume.client.prepare({ ...header("pipe-short", "pipe/short", 10) }, [Buffer.from("abc")]),
    ).rejects.toMatchObject({ code: ErrorCode.SIZE_MISMATCH });
    expect(volume.server.store.listKeys(undefined, true).some((k) => k.txid === "pipe-short")).toBe(false);
    // Aborting an unknown txid succeeds (idempotent), as the unary Abort does.
    await expect(volume.client.abort("pipe-never-prepared")).resolves.toBeUndefined();
  });

  it("reads a byte range, refuses one longer than a pipe reply, and deletes", async () => {
    const value = testValue(5000);
    const version = nextVersion++;
    await volume.client.prepare(header("pipe-range", "pipe/range", 5000), [value.bytes]);
    await volume.client.commit("pipe-range", version);
    const part = await volume.client.readRange("pipe/range", { offset: 1000, length: 300, version });
    expect(Buffer.compare(part, value.bytes.subarray(1000, 1300))).toBe(0);
    await expect(
      volume.client.readRange("pipe/range", { offset: 0, length: PIPE_VALUE_BYTES_MAX + 1 }),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(
      volume.client.readRange("pipe/range", { offset: 0, length: 10, version: version + 1 }),
    ).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });
    await expect(volume.client.delete("pipe/range", version)).resolves.toBe(true);
    await expect(volume.client.readRange("pipe/range", { offset: 0, length: 10 })).rejects.toMatchObject({
      code: ErrorCode.KEY_NOT_FOUND,
    });
  });

  it("a value over the pipe's size goes as a streamed Prepare and still round-trips", async () => {
    const value = testValue(PIPE_VALUE_BYTES_MAX + 1);
    const vote = await volume.client.prepare(header("pipe-big", "pipe/big", value.bytes.length), [
      value.bytes,
    ]);
    expect(vote).toMatchObject({ size: value.bytes.length, crc32c: value.crc32c });
    const requests = await volume.server.metrics.grpcRequests.get();
    expect(requests.values.some((v) => v.labels["method"] === "Prepare")).toBe(true);
  });

  it("shutdown ends the pipe without waiting out the grace period; later calls fail UNAVAILABLE", async () => {
    const own = await startTestVolume({ shutdownGraceMs: 10_000 });
    try {
      const value = testValue(100);
      await own.client.prepare(header("pipe-down", "pipe/down", 100), [value.bytes]);
      const startedMs = performance.now();
      await own.server.close();
      expect(performance.now() - startedMs).toBeLessThan(5_000);
      await expect(own.client.commit("pipe-down", 1, { deadlineMs: 3_000 })).rejects.toMatchObject({
        code: ErrorCode.UNAVAILABLE,
      });
    } finally {
      await own.cleanup();
    }
  });
});

describe("volume Pipe: a peer that stops answering", () => {
  let server: grpc.Server;
  let address: string;
  const received: PipeRequest__Output[] = [];
  const batchSizes: number[] = [];
  let pipesOpened = 0;
  let answerAfter = Number.POSITIVE_INFINITY;

  beforeAll(async () => {
    server = new grpc.Server(grpcChannelOptions);
    const { Volume } = loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1;
    // Only Pipe is served: it reads requests and answers none until `answerAfter` have come.
    const handlers: Partial<VolumeHandlers> = {
      Pipe: (call: grpc.ServerDuplexStream<PipeRequests__Output, PipeReplies>) => {
        pipesOpened++;
        call.on("data", (batch: PipeRequests__Output) => {
          batchSizes.push(batch.requests.length);
          for (const request of batch.requests) {
            received.push(request);
            if (received.length >= answerAfter) call.write({ replies: [{ id: request.id, abort: {} }] });
          }
        });
        call.on("end", () => call.end());
      },
    };
    server.addService(Volume.service, handlers as VolumeHandlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err === null ? resolve(p) : reject(err),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => {
    server.forceShutdown();
  });

  it("times a request out (TIMEOUT), replaces the silent stream, and recovers when answers come", async () => {
    const client = new VolumeClient(address);
    try {
      await expect(client.abort("silent-1", { deadlineMs: 300 })).rejects.toMatchObject({
        code: ErrorCode.TIMEOUT,
      });
      expect(received.map((r) => r.abort?.txid)).toEqual(["silent-1"]);
      answerAfter = 0;
      await expect(client.abort("silent-2", { deadlineMs: 3_000 })).resolves.toBeUndefined();
      // The stream that never answered was cancelled; the second request went on a new one.
      expect(pipesOpened).toBe(2);
    } finally {
      client.close();
    }
  });

  it("sends the requests issued in one turn in one message", async () => {
    answerAfter = Number.POSITIVE_INFINITY;
    const client = new VolumeClient(address);
    try {
      // Open the stream first, so that the batch below is the only message on it.
      await expect(client.abort("warm-1", { deadlineMs: 100 })).rejects.toMatchObject({
        code: ErrorCode.TIMEOUT,
      });
      answerAfter = 0;
      batchSizes.length = 0;
      received.length = 0;
      const txids = Array.from({ length: 20 }, (_, i) => `together-${i}`);
      await Promise.all(txids.map((txid) => client.abort(txid, { deadlineMs: 3_000 })));
      expect(batchSizes).toEqual([20]);
      expect(received.map((r) => r.abort?.txid)).toEqual(txids);
    } finally {
      client.close();
    }
  });

  it("a cancelled signal fails the request at once with CLIENT_ABORTED", async () => {
    answerAfter = Number.POSITIVE_INFINITY;
    const client = new VolumeClient(address);
    try {
      const controller = new AbortController();
      const call = client.abort("cancelled-1", { deadlineMs: 10_000, signal: controller.signal });
      controller.abort();
      await expect(call).rejects.toMatchObject({ code: ErrorCode.CLIENT_ABORTED });
    } finally {
      client.close();
    }
  });

  it("close() fails what is unanswered with UNAVAILABLE", async () => {
    answerAfter = Number.POSITIVE_INFINITY;
    const client = new VolumeClient(address);
    const call = client.abort("closed-1", { deadlineMs: 10_000 });
    client.close();
    await expect(call).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
  });
});

describe("volume Pipe: the CRC of a whole-value prepare", () => {
  it("votes with the CRC32C of the bytes it stored", async () => {
    const bytes = Buffer.from("the quick brown fox");
    const vote = await volume.client.prepare(header("pipe-crc", "pipe/crc", bytes.length), [
      bytes.subarray(0, 5),
      bytes.subarray(5),
    ]);
    expect(vote.crc32c).toBe(crc32c(bytes) >>> 0);
  });
});

describe("volume gRPC receive windows", () => {
  it("advertise serverWindows per stream and per connection, not HTTP/2's 64 KiB", async () => {
    const session = http2.connect(`http://${volume.server.grpcAddress}`);
    try {
      const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
      expect(settings.initialWindowSize).toBe(serverWindows.streamBytes);
      // The connection window arrives as a WINDOW_UPDATE right after the settings.
      const deadline = performance.now() + 2_000;
      while (
        session.state.remoteWindowSize !== serverWindows.connectionBytes &&
        performance.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(session.state.remoteWindowSize).toBe(serverWindows.connectionBytes);
    } finally {
      session.close();
    }
  });
});
