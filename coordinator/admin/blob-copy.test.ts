import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ErrorCode, MinikvError } from "../../common/errors.js";
import type { VolumeClient } from "../../common/volume-client.js";
import type { BlobMeta } from "../metadata-commands.js";
import { copyBlob } from "./blob-copy.js";
import type { ClusterAccess } from "./cluster-access.js";

const blob: BlobMeta = {
  key: "k",
  size: 3,
  crc32c: 0,
  etag: '"00000000"',
  version: 7,
  contentType: "application/octet-stream",
  replicas: ["source"],
  txid: "c1.t",
  createdAtMs: 0,
};

describe("copyBlob (repair and rebalance copies)", () => {
  it("a source that refuses before the target reads the body fails the copy, not the process", async () => {
    // As VolumeClient.read does when the volume answers with an error: the stream is
    // destroyed with it as soon as the answer arrives, whoever is reading.
    let sourceFailed: Promise<void> = Promise.resolve();
    const sourceClient = {
      read: () => {
        const stream = new Readable({ read: () => undefined });
        sourceFailed = new Promise((resolve) =>
          setImmediate(() => {
            stream.destroy(new MinikvError(ErrorCode.KEY_NOT_FOUND, "version gone"));
            // Its 'error' event goes out on the next tick, before this.
            setImmediate(resolve);
          }),
        );
        return stream;
      },
    };
    // The target reads the body only after its header went out: here, once the source failed.
    const targetClient = {
      stat: () => Promise.reject(new MinikvError(ErrorCode.KEY_NOT_FOUND, "no copy yet")),
      prepare: async (_header: unknown, body: AsyncIterable<Uint8Array>) => {
        await sourceFailed;
        for await (const _chunk of body) continue;
        throw new Error("the body ended without the source's error");
      },
      abort: () => Promise.resolve(),
    };
    const clients: Record<string, unknown> = { source: sourceClient, target: targetClient };
    const access = {
      coordinatorId: "c1",
      volumeClient: (id: string) => clients[id] as VolumeClient,
    } as unknown as ClusterAccess;

    const copy = copyBlob(access, blob, ["source"], "target", { signal: new AbortController().signal });

    await expect(copy).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: expect.stringContaining("version gone") as unknown,
    });
  });
});
