/**
 * Bounds the memory a process holds in blob chunks it has already passed on.
 *
 * A chunk's bytes live outside the JS heap and are freed only when a garbage collection
 * finds the small Buffer object holding them dead. Those objects die young, but scavenges
 * are paced by allocation inside the JS heap, and moving a large blob allocates little
 * there: with the young generation that small requests want (8 MiB semi-spaces,
 * node-flags.ts) a coordinator passing an upload held up to ~50 MiB of dead chunks before
 * V8's own external-memory trigger ran a collection. So every STREAM_SCAVENGE_BYTES of blob
 * bytes through the process asks for one scavenge, asynchronously (V8 runs it at its next
 * opportunity). Measured on a coordinator taking 512 MiB uploads: peak RSS 149–151 MiB
 * without, 134–138 MiB with (two runs each of two uploads); a scavenge costs about a
 * millisecond, once per 32 MiB.
 *
 * Chunks still in flight at a scavenge can be promoted, and then only a major collection
 * frees them. The servers start with a 64 MiB initial old generation (node-flags.ts), so V8
 * does not run a major collection every few MiB of a stream by itself; instead every
 * STREAM_MAJOR_GC_BYTES the stream asks for one (its cost is about 10–20 ms in a
 * coordinator). Coordinator taking 512 MiB uploads (the RSS test of test/blob-cluster.test.ts,
 * two runs each): peak RSS 144–152 MiB with the flag and scavenges alone, 141 with a major
 * collection every 128 MiB, 138–139 with one every 64 MiB.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Blob bytes streamed through the process between two scavenges. */
export const STREAM_SCAVENGE_BYTES = 32 * 1024 * 1024;
/** Blob bytes streamed through the process between two major collections (a multiple of the above). */
export const STREAM_MAJOR_GC_BYTES = 64 * 1024 * 1024;

type Collect = (options: { type: "minor" | "major"; execution: "async" }) => unknown;

let collect: Collect | null | undefined;
let sinceScavenge = 0;
let requests = 0;

/** V8's collection hook (the `--expose-gc` function), obtained at run time; null if refused. */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as Collect;
  } catch {
    collect = null;
  }
  return collect;
}

/**
 * Counts blob bytes that passed through; every STREAM_SCAVENGE_BYTES asks for a scavenge,
 * and every STREAM_MAJOR_GC_BYTES for a major collection instead.
 */
export function noteStreamedBytes(bytes: number): void {
  sinceScavenge += bytes;
  if (sinceScavenge < STREAM_SCAVENGE_BYTES) return;
  sinceScavenge = 0;
  requests += 1;
  const major = requests % (STREAM_MAJOR_GC_BYTES / STREAM_SCAVENGE_BYTES) === 0;
  void collector()?.({ type: major ? "major" : "minor", execution: "async" });
}
