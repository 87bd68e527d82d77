import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { crc32c } from "../common/hashing.js";
import { ByteReader, ByteWriter, FormatError } from "./byte-buffer.js";
import { fsyncDirectory, removeIfExists, writeFileAtomic } from "./durable-fs.js";

/**
 * The compaction commit marker (docs/volume-format.md, "Compaction marker"):
 * `compaction.marker` in the data directory, written atomically once the new segment is
 * fsynced. Its presence is the decision: at boot, a marker means "finish the switch to
 * `output` and delete `sources`"; no marker means "roll back" (delete `*.compacting`).
 */

export const MARKER_FILE = "compaction.marker";
const MARKER_MAGIC = 0x4b434d4d; // "MMCK" read as a little-endian u32

export interface CompactionMarker {
  readonly output: number;
  readonly sources: readonly number[];
}

export async function writeMarker(dataDir: string, marker: CompactionMarker): Promise<void> {
  const w = new ByteWriter(64);
  w.u32(MARKER_MAGIC).u32(1).u32(marker.output).u32(marker.sources.length);
  for (const source of marker.sources) w.u32(source);
  const body = w.finish();
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32c(body), 0);
  await writeFileAtomic(join(dataDir, MARKER_FILE), [body, crc]);
}

/** The marker, undefined when there is none, or a reason string when it is unreadable. */
export async function readMarker(dataDir: string): Promise<CompactionMarker | undefined | string> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(join(dataDir, MARKER_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (bytes.length < 8 || crc32c(bytes.subarray(0, -4)) !== bytes.readUInt32LE(bytes.length - 4)) {
    return "CRC mismatch";
  }
  try {
    const r = new ByteReader(bytes, 0, bytes.length - 4);
    if (r.u32() !== MARKER_MAGIC || r.u32() !== 1) return "bad magic or version";
    const output = r.u32();
    const sources: number[] = [];
    for (let n = r.u32(); n > 0; n--) sources.push(r.u32());
    if (r.remaining !== 0) return "trailing bytes";
    return { output, sources };
  } catch (err) {
    if (err instanceof FormatError) return err.message;
    throw err;
  }
}

export async function removeMarker(dataDir: string): Promise<void> {
  if (await removeIfExists(join(dataDir, MARKER_FILE))) await fsyncDirectory(dataDir);
}
