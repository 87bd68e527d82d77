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
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Blob bytes streamed through the process between two scavenges. */
export const STREAM_SCAVENGE_BYTES = 32 * 1024 * 1024;

type Collect = (options: { type: "minor"; execution: "async" }) => unknown;

let collect: Collect | null | undefined;
let sinceScavenge = 0;

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

/** Counts blob bytes that passed through; every STREAM_SCAVENGE_BYTES, asks for a scavenge. */
export function noteStreamedBytes(bytes: number): void {
  sinceScavenge += bytes;
  if (sinceScavenge < STREAM_SCAVENGE_BYTES) return;
  sinceScavenge = 0;
  void collector()?.({ type: "minor", execution: "async" });
}
