import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProtoGrpcType } from "../proto/generated/volume.js";
import { loadProto } from "./grpc.js";
import {
  FRAME_HEADER_BYTES,
  frameOf,
  framedBuffer,
  framedBytesMessage,
  useSharedFrames,
  withFrame,
} from "./grpc-framing.js";

// A message made by framedBuffer() is sent by every call it is written to from one frame,
// without grpc-js copying it into a new frame per call, and so is a server's reply value
// marked withFrame(); any other message is framed by grpc-js as before. Checked on grpc-js's
// own send paths, then over real loopback calls.

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

const download: grpc.ServiceDefinition = {
  Download: {
    path: "/minikv.test.Framing/Download",
    requestStream: false,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: (value: { bytes: Buffer }) => value.bytes,
    responseDeserialize: raw,
  },
};

interface UploadClient extends grpc.Client {
  Upload(
    callback: (err: grpc.ServiceError | null, digest?: Buffer) => void,
  ): grpc.ClientWritableStream<Buffer>;
  Download(request: Buffer): grpc.ClientReadableStream<Buffer>;
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

describe("framedBytesMessage", () => {
  const { Volume } = loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1;
  const serializeReadReply = Volume.service.Read.responseSerialize;

  it.each([0, 1, 127, 128, 16_384, 262_144])(
    "encodes a ReadReply of %i bytes as protobufjs does, framed",
    (size) => {
      const bytes = randomBytes(size);
      const cut = Math.floor(size / 2);
      const { message, field } = framedBytesMessage(1, [bytes.subarray(0, cut), bytes.subarray(cut)], size);
      expect(Buffer.compare(field, bytes)).toBe(0);
      expect(field.buffer).toBe(message.buffer);
      // protobufjs leaves an empty bytes field out; the explicit empty field decodes the same.
      if (size > 0) expect(Buffer.compare(message, serializeReadReply({ chunk: bytes }))).toBe(0);
      expect(Volume.service.Read.responseDeserialize(message).chunk.length).toBe(size);
      expect(frameOf(message)?.readUInt32BE(1)).toBe(message.length);
    },
  );

  it("refuses pieces that do not add up to the size, and field numbers beyond one tag byte", () => {
    expect(() => framedBytesMessage(1, [Buffer.alloc(3)], 4)).toThrow(RangeError);
    expect(() => framedBytesMessage(1, [Buffer.alloc(5)], 4)).toThrow(RangeError);
    expect(() => framedBytesMessage(16, [], 0)).toThrow(RangeError);
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

  it("answers a server reply marked withFrame() with its frame, and serializes any other", () => {
    useSharedFrames();
    const calls = createRequire(import.meta.url)("@grpc/grpc-js/build/src/server-interceptors.js") as {
      BaseServerInterceptingCall: { prototype: { serializeMessage(this: unknown, value: unknown): Buffer } };
    };
    const call = { handler: { serialize: (value: { bytes: Buffer }) => value.bytes } };
    const serialize = (value: unknown): Buffer =>
      calls.BaseServerInterceptingCall.prototype.serializeMessage.call(call, value);
    const { message, field } = framedBytesMessage(1, [Buffer.from("abc")], 3);
    const marked = withFrame({ bytes: field }, message);
    expect(serialize(marked)).toBe(frameOf(message));
    const plain = serialize({ bytes: Buffer.from("xyz") });
    expect(plain.readUInt32BE(1)).toBe(3);
    expect(plain.subarray(FRAME_HEADER_BYTES).toString()).toBe("xyz");
    expect(() => withFrame({}, Buffer.alloc(3))).toThrow(RangeError);
  });

  describe("over loopback calls", () => {
    let server: grpc.Server;
    let client: UploadClient;

    beforeAll(async () => {
      useSharedFrames();
      server = new grpc.Server();
      server.addService(download, {
        Download: (call: grpc.ServerWritableStream<Buffer, { bytes: Buffer }>) => {
          for (const size of [1, 262_144, 0, 5]) {
            const bytes = Buffer.alloc(size, size % 251);
            const { message } = framedBytesMessage(1, [bytes], size);
            // Framed, the reply's encoding is sent; plain, responseSerialize's output is.
            call.write(size % 2 === 0 ? withFrame({ bytes: Buffer.alloc(0) }, message) : { bytes: message });
          }
          call.end();
        },
      });
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
      const Client = grpc.makeGenericClientConstructor(
        { ...upload, ...download },
        "Framing",
      ) as unknown as new (address: string, credentials: grpc.ChannelCredentials) => UploadClient;
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

    it("delivers a server's framed replies intact, mixed with plain ones", async () => {
      const received: Buffer[] = [];
      for await (const reply of client.Download(Buffer.alloc(0))) received.push(reply as Buffer);
      const { Volume } = loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1;
      const chunks = received.map((reply) => Volume.service.Read.responseDeserialize(reply).chunk);
      expect(chunks.map((chunk) => chunk.length)).toEqual([1, 262_144, 0, 5]);
      for (const chunk of chunks) expect(chunk.every((byte) => byte === chunk.length % 251)).toBe(true);
    });
  });
});
