import { describe, expect, it } from "vitest";
import type { ProtoGrpcType } from "../proto/generated/volume.js";
import { loadProto } from "./grpc.js";
import { FRAME_HEADER_BYTES, frameOf } from "./grpc-framing.js";
import { limits } from "./limits.js";
import { chunkSent, pipeRequestsSerializer, sharedChunk } from "./volume-client.js";

// sharedChunk builds a Prepare chunk inside its own PrepareRequest encoding, which every
// Prepare call then sends as it is: it must be byte for byte what protobufjs would encode.

const serializePrepare =
  loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1.Volume.service.Prepare.requestSerialize;

/** `chunk` sits inside its PrepareRequest encoding, as protobufjs encodes it, inside its frame. */
function expectEncodedInFrame(chunk: Uint8Array): void {
  // The encoding is the memory right around the chunk: tag and length, then the bytes.
  const expected = serializePrepare({ chunk: Buffer.from(chunk) });
  const head = expected.length - chunk.length;
  const encoded = Buffer.from(chunk.buffer, chunk.byteOffset - head, expected.length);
  expect(Buffer.compare(encoded, expected)).toBe(0);
  // Its gRPC frame header comes right before it (grpc-framing.ts).
  const header = Buffer.from(chunk.buffer, encoded.byteOffset - FRAME_HEADER_BYTES, FRAME_HEADER_BYTES);
  expect(header[0]).toBe(0);
  expect(header.readUInt32BE(1)).toBe(expected.length);
}

describe("sharedChunk's encoding", () => {
  it.each([1, 127, 128, 300, 16_383, 16_384, 65_536, 262_144])(
    "joins pieces of %i bytes and encodes them as protobufjs does",
    (size) => {
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
      const cut = Math.floor(size / 3);
      const { chunk } = sharedChunk(
        [bytes.subarray(0, cut), bytes.subarray(cut, 2 * cut), bytes.subarray(2 * cut)],
        size,
        1,
      );
      expect(Buffer.compare(chunk, bytes)).toBe(0);
      expectEncodedInFrame(chunk);
    },
  );
});

// sharedChunk reuses a full chunk's frame once every write of it has been sent, and never
// before: a frame filled again while a call still had it to send would send the new bytes.
describe("sharedChunk", () => {
  const full = limits.streamChunkBytes;
  const pattern = (seed: number, size = full): Buffer => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 17 + seed) & 0xff;
    return bytes;
  };

  it("takes a frame back only after the last of its writers has sent it", () => {
    const first = sharedChunk([pattern(1)], full, 3);
    expect(first.reused).toBe(false);
    chunkSent(first.chunk);
    chunkSent(first.chunk);
    // One write still unsent: the next chunk gets a frame of its own.
    const second = sharedChunk([pattern(2)], full, 3);
    expect(second.chunk).not.toBe(first.chunk);
    expect(Buffer.compare(first.chunk, pattern(1))).toBe(0);
    chunkSent(first.chunk);
    const third = sharedChunk([pattern(3, full / 2), pattern(4, full / 2)], full, 2);
    expect(third.reused).toBe(true);
    expect(third.chunk).toBe(first.chunk);
    expect(Buffer.compare(third.chunk, Buffer.concat([pattern(3, full / 2), pattern(4, full / 2)]))).toBe(0);
    // Still the whole encoding, inside its frame, around the new bytes.
    expectEncodedInFrame(third.chunk);
  });

  it("gives a short chunk a frame of its own, never reused", () => {
    const short = sharedChunk([pattern(5, 1000)], 1000, 1);
    expect(short.reused).toBe(false);
    chunkSent(short.chunk);
    expect(sharedChunk([pattern(6, 1000)], 1000, 1).chunk).not.toBe(short.chunk);
  });

  it("ignores a chunk it did not hand out, and a write reported twice too many", () => {
    const mine = sharedChunk([pattern(7)], full, 1);
    chunkSent(mine.chunk);
    chunkSent(mine.chunk);
    chunkSent(Buffer.from(pattern(8)));
    const next = sharedChunk([pattern(9)], full, 1);
    expect(next.chunk).toBe(mine.chunk);
    // Reported sent once more than written: ignored, the frame is not handed out twice.
    expect(sharedChunk([pattern(10)], full, 1).chunk).not.toBe(next.chunk);
  });
});

// The Pipe call's batches skip proto-loader's fromObject and are encoded into their frame:
// the bytes on the wire must be the ones proto-loader's serializer writes.
describe("pipeRequestsSerializer", () => {
  const { Volume } = loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1;
  const serialize = Volume.service.Pipe.requestSerialize;
  const deserialize = Volume.service.Pipe.requestDeserialize;
  const encode = pipeRequestsSerializer();

  it("encodes every kind of request as proto-loader does, inside its gRPC frame", () => {
    const value = Buffer.alloc(4096);
    for (let i = 0; i < value.length; i++) value[i] = (i * 13 + 5) & 0xff;
    const header = {
      txid: "tx-1",
      key: "photos/ä/1.jpg",
      size: value.length,
      crc32c: 0xfedc_ba98,
      content_type: "image/jpeg",
      crc32c_unknown: false,
      size_unknown: false,
    };
    const batch = {
      requests: [
        { id: 1, prepare: { header, value } },
        { id: 2, prepare: { header: { ...header, txid: "tx-2", size: 0 }, value: Buffer.alloc(0) } },
        { id: 3, commit: { txid: "tx-1", version: 2 ** 40 + 3 } },
        { id: 4, abort: { txid: "tx-2" } },
        { id: 0xffff_ffff, delete: { key: "k", version: 7 } },
        { id: 6, read: { key: "k", offset: 5, length: 4096, version: 0 } },
      ],
    };
    const message = encode(batch);
    expect(Buffer.compare(message, serialize(batch))).toBe(0);
    expect(deserialize(message).requests.map((r) => r.id)).toEqual([1, 2, 3, 4, 0xffff_ffff, 6]);
    const frame = frameOf(message);
    expect(frame?.length).toBe(message.length + FRAME_HEADER_BYTES);
    expect(frame?.[0]).toBe(0);
    expect(frame?.readUInt32BE(1)).toBe(message.length);
    expect(Buffer.compare(frame!.subarray(FRAME_HEADER_BYTES), message)).toBe(0);
    expect(Buffer.compare(encode({ requests: [] }), serialize({ requests: [] }))).toBe(0);
  });
});
