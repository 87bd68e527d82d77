import { describe, expect, it } from "vitest";
import type { ProtoGrpcType } from "../proto/generated/volume.js";
import { loadProto } from "./grpc.js";
import { FRAME_HEADER_BYTES } from "./grpc-framing.js";
import { encodedChunk } from "./volume-client.js";

// encodedChunk builds a Prepare chunk inside its own PrepareRequest encoding, which every
// Prepare call then sends as it is: it must be byte for byte what protobufjs would encode.

describe("encodedChunk", () => {
  const { Volume } = loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1;
  const serialize = Volume.service.Prepare.requestSerialize;

  it.each([1, 127, 128, 300, 16_383, 16_384, 65_536, 262_144])(
    "joins pieces of %i bytes and encodes them as protobufjs does",
    (size) => {
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
      const cut = Math.floor(size / 3);
      const chunk = encodedChunk(
        [bytes.subarray(0, cut), bytes.subarray(cut, 2 * cut), bytes.subarray(2 * cut)],
        size,
      );
      expect(Buffer.compare(chunk, bytes)).toBe(0);
      // The encoding is the memory right around the chunk: tag and length, then the bytes.
      const expected = serialize({ chunk: bytes });
      const head = expected.length - size;
      const encoded = Buffer.from(chunk.buffer, chunk.byteOffset - head, expected.length);
      expect(Buffer.compare(encoded, expected)).toBe(0);
      // Its gRPC frame header comes right before it (grpc-framing.ts).
      const header = Buffer.from(chunk.buffer, encoded.byteOffset - FRAME_HEADER_BYTES, FRAME_HEADER_BYTES);
      expect(header[0]).toBe(0);
      expect(header.readUInt32BE(1)).toBe(expected.length);
    },
  );
});
