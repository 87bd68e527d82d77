import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FRAME_HEADER_BYTES, frameOf, framedBuffer, useSharedFrames } from "./grpc-framing.js";

// A message made by framedBuffer() is sent by every call it is written to from one frame,
// without grpc-js copying it into a new frame per call; any other message is framed by
// grpc-js as before. Checked on grpc-js's own send path, then over real loopback calls.

const raw = (bytes: Buffer): Buffer => bytes;
const upload: grpc.ServiceDefinition = {
  Upload: {
    path: "/minikv.test.Framing/Upload",
    requestStream: true,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

interface UploadClient extends grpc.Client {
  Upload(
    callback: (err: grpc.ServiceError | null, digest?: Buffer) => void,
  ): grpc.ClientWritableStream<Buffer>;
}

describe("framedBuffer", () => {
  it("writes the gRPC frame header in front of the message", () => {
    for (const size of [0, 1, 300, 262_147]) {
      const message = framedBuffer(size);
      expect(message.length).toBe(size);
      const frame = frameOf(message);
      expect(frame?.length).toBe(size + FRAME_HEADER_BYTES);
      expect(frame?.[0]).toBe(0); // not compressed
      expect(frame?.readUInt32BE(1)).toBe(size);
      // The message is the frame's own memory, after the header.
      expect(frame?.buffer).toBe(message.buffer);
      expect(message.byteOffset).toBe((frame?.byteOffset ?? 0) + FRAME_HEADER_BYTES);
    }
  });

  it("knows only the messages it made, and only as they are", () => {
    expect(frameOf(Buffer.alloc(16))).toBeUndefined();
    const message = framedBuffer(64);
    expect(frameOf(message.subarray(1))).toBeUndefined();
    expect(frameOf(Buffer.from(message))).toBeUndefined();
  });

  it("refuses sizes a frame cannot carry", () => {
    for (const size of [-1, 1.5, 2 ** 32, Number.NaN]) expect(() => framedBuffer(size)).toThrow(RangeError);
  });
});

describe("useSharedFrames", () => {
  interface SendFilter {
    sendMessage(message: Promise<{ message: Buffer; flags?: number }>): Promise<{ message: Buffer }>;
  }
  const sendFilter = (): SendFilter => {
    const filters = createRequire(import.meta.url)("@grpc/grpc-js/build/src/compression-filter.js") as {
      CompressionFilter: new (options: object, shared: object) => SendFilter;
    };
    return new filters.CompressionFilter({}, {});
  };

  it("takes over grpc-js's uncompressed framing, once", () => {
    expect(useSharedFrames()).toBe(true);
    expect(useSharedFrames()).toBe(true);
  });

  it("sends a framed message's own frame from every call, and frames any other message", async () => {
    useSharedFrames();
    const message = framedBuffer(1024);
    message.fill(7);
    const sent = await Promise.all(
      [sendFilter(), sendFilter()].map((f) => f.sendMessage(Promise.resolve({ message }))),
    );
    for (const { message: frame } of sent) expect(frame).toBe(frameOf(message));

    const plain = Buffer.alloc(1024, 7);
    const { message: framed } = await sendFilter().sendMessage(Promise.resolve({ message: plain }));
    expect(Buffer.compare(framed, frameOf(message) as Buffer)).toBe(0);
    expect(framed.buffer).not.toBe(plain.buffer);
  });

  describe("over loopback calls", () => {
    let server: grpc.Server;
    let client: UploadClient;

    beforeAll(async () => {
      useSharedFrames();
      server = new grpc.Server();
      server.addService(upload, {
        Upload: (call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
          const hash = createHash("sha256");
          call.on("data", (chunk: Buffer) => hash.update(chunk));
          call.on("end", () => done(null, hash.digest()));
        },
      });
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) =>
          err ? reject(err) : resolve(bound),
        ),
      );
      const Client = grpc.makeGenericClientConstructor(upload, "Framing") as unknown as new (
        address: string,
        credentials: grpc.ChannelCredentials,
      ) => UploadClient;
      client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });

    afterAll(() => {
      client?.close();
      server?.forceShutdown();
    });

    it("delivers the same framed messages intact to concurrent calls, mixed with plain ones", async () => {
      const messages: Buffer[] = [];
      for (const size of [0, 1, 16_384, 262_144, 100_003, 262_144]) {
        const message = size % 2 === 0 ? framedBuffer(size) : Buffer.alloc(size);
        randomBytes(size).copy(message);
        messages.push(message);
      }
      const expected = createHash("sha256");
      for (const message of messages) expected.update(message);
      const digest = expected.digest();

      const calls = [1, 2, 3].map(
        () =>
          new Promise<Buffer>((resolve, reject) => {
            const call = client.Upload((err, reply) => (err ? reject(err) : resolve(reply as Buffer)));
            for (const message of messages) call.write(message);
            call.end();
          }),
      );
      for (const reply of await Promise.all(calls)) expect(Buffer.compare(reply, digest)).toBe(0);
    });
  });
});
