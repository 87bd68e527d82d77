/**
 * Bounds the memory a process holds in blob chunks it has already passed on.
 *
 * A chunk's bytes live outside the JS heap and are freed only when a garbage collection
 * finds the small Buffer object holding them dead. Those objects die young, but scavenges
 * are paced by allocation inside the JS heap, and moving a large blob allocates little
 * there: with the young generation that small requests want (8 MiB semi-spaces,
 * node-flags.ts) a coordinator passing an upload held up to ~50 MiB of dead chunks before
 * V8's own external-memory trigger ran a collection. A scavenge every 32 MiB of blob bytes
 * brought a coordinator taking 512 MiB uploads from 149–151 to 134–138 MiB of peak RSS.
 *
 * Chunks still in flight at a scavenge can be promoted, and then only a major collection
 * frees them. The servers start with a 64 MiB initial old generation (node-flags.ts), so V8
 * does not run a major collection every few MiB of a stream by itself; instead every
 * STREAM_GC_BYTES of blob bytes the stream asks for one, asynchronously (V8 runs it at its
 * next opportunity; it costs about 10–20 ms in a coordinator, and collects the young
 * generation too). Coordinator taking 512 MiB uploads (the RSS test of test/blob-cluster.test.ts):
 * peak RSS 144–152 MiB with the flag and scavenges alone, 141 with a major collection every
 * 128 MiB, 136–145 with one every 64 MiB (151 once in CI), 132–135 with one every 32 MiB (three
 * runs beside two busy CPU loops). Every 32 MiB costs the leader about 550–600 ms of CPU per
 * 64 MiB PUT against 280–460 at 64 MiB, and keeps the bound with room to spare.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Blob bytes streamed through the process between two collections it asks for. */
export const STREAM_GC_BYTES = 32 * 1024 * 1024;

type Collect = (options: { type: "major"; execution: "async" }) => unknown;

let collect: Collect | null | undefined;
let sinceCollection = 0;

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

/** Counts blob bytes that passed through; every STREAM_GC_BYTES asks for a major collection. */
export function noteStreamedBytes(bytes: number): void {
  sinceCollection += bytes;
  if (sinceCollection < STREAM_GC_BYTES) return;
  sinceCollection = 0;
  void collector()?.({ type: "major", execution: "async" });
}
