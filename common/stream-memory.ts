/**
 * Bounds the memory a process holds in blob chunks it has already passed on. A coordinator
 * and a volume ask for different collections (COORDINATOR_ and VOLUME_STREAM_COLLECTIONS).
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
 * frees them. The servers start with a large initial old generation (node-flags.ts: 128 MiB
 * for a coordinator, 64 for a volume), so V8 does not run a major collection every few MiB
 * of a stream by itself; instead every STREAM_GC_BYTES of blob bytes the stream asks for
 * one, asynchronously (V8 runs it at its next opportunity, as one full, non-incremental
 * collection: 39–82 ms each in a volume with `--trace-gc` during four 64 MiB PUTs at once;
 * it collects the young generation too).
 * Coordinator taking 512 MiB uploads (the RSS test of test/blob-cluster.test.ts): peak RSS
 * 144–152 MiB with the flag and scavenges alone, 141 with a major collection every 128 MiB,
 * 136–145 with one every 64 MiB (151 once in CI), 132–135 with one every 32 MiB (three runs
 * beside two busy CPU loops). Every 32 MiB cost the leader about 550–600 ms of CPU per
 * 64 MiB PUT against 280–460 at 64 MiB, and kept the bound with room to spare.
 *
 * A coordinator's upload now builds its 256 KiB messages in frames that are reused once
 * every volume's call has sent them (common/volume-client.ts, sharedChunk), and counts here
 * only the bytes of frames it had to allocate: in steady state nothing, as what is left
 * (the socket's pieces of the body, copied into a frame at once) dies young. Peak RSS in the
 * same test: 132–135 MiB for 512 MiB (two runs), 139 MiB for 2 GiB; the leader's CPU per
 * 64 MiB PUT, four at a time: 225–391 ms against 462–615 (docs/BENCHMARKS.md).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** When a process asks for collections, counted in blob bytes streamed through it. */
export interface StreamCollections {
  /** Bytes between two scavenges asked for (null: none asked for). */
  readonly minorEveryBytes: number | null;
  /** Bytes between two major collections asked for. */
  readonly majorEveryBytes: number;
}

/** Blob bytes streamed through a coordinator between two major collections it asks for. */
export const STREAM_GC_BYTES = 32 * 1024 * 1024;

/**
 * The default, and a coordinator's: a major collection every STREAM_GC_BYTES. V8 also runs
 * incremental major collections of its own as external memory grows, and a requested one
 * often comes right after one of those. Tried and not adopted: skipping a request when V8
 * had run one of its own since the last. With four 64 MiB PUTs at once the coordinator's
 * major-collection pauses fell from 478–606 to 215–287 ms per eight PUTs, but its peak RSS
 * rose from 152–158 to 165–172 MiB, and the PUTs were no faster.
 */
export const COORDINATOR_STREAM_COLLECTIONS: StreamCollections = {
  minorEveryBytes: null,
  majorEveryBytes: STREAM_GC_BYTES,
};

/**
 * A volume's (volume/main.ts): a scavenge every 4 MiB and a major collection only every
 * 256 MiB. A volume's chunks die within a few MiB of arriving (written, then dropped), so a
 * scavenge frees them before a second one could promote them; a coordinator's live longer
 * (queued for three volumes at the pace of the slowest) and are promoted, so scavenges do not
 * bound it (tried: one every 4 MiB and a major collection every 128 MiB, 154 MiB in the
 * 512 MiB test). One 512 MiB PUT at a time, the volumes' CPU fell from 3.7–4.5 s to 3.0 s
 * and their peak RSS from 123–132 to 112–117 MiB; four 64 MiB PUTs at once, from 3.3–4.0 s
 * to 2.8–2.9 s per eight PUTs and from 137–147 to 114–123 MiB (docs/BENCHMARKS.md).
 */
export const VOLUME_STREAM_COLLECTIONS: StreamCollections = {
  minorEveryBytes: 4 * 1024 * 1024,
  majorEveryBytes: 256 * 1024 * 1024,
};

type Collect = (options: { type: "major"; execution: "async" } | { type: "minor" }) => unknown;

let collect: Collect | null | undefined;
let policy: StreamCollections = COORDINATOR_STREAM_COLLECTIONS;
let sinceMajor = 0;
let sinceMinor = 0;

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
 * How long a major collection asked for waits after its listeners were told: long enough
 * for what they send (a Raft leader's heartbeats) to leave the process first, since a
 * collection stops the event loop. A few turns of the loop.
 */
export const MAJOR_NOTICE_MS = 5;

/** Told of a major collection about to be asked for; true if it sent something. */
type MajorListener = () => boolean;

const majorListeners = new Set<MajorListener>();

/**
 * Calls `listener` before each major collection this process asks for; if any listener
 * says it sent something, the collection waits MAJOR_NOTICE_MS, else it is asked for at
 * once. A coordinator's leader sends a heartbeat round: its major collections stop it for
 * 12–38 ms, now and then far longer on a busy machine, and a follower whose timer started
 * just before the pause waits a whole election timeout before it campaigns. Any other
 * coordinator sends nothing, so its collections do not wait (a wait lets more dead chunks
 * pile up). Returns the function that removes the listener.
 */
export function beforeMajorCollections(listener: MajorListener): () => void {
  majorListeners.add(listener);
  return () => void majorListeners.delete(listener);
}

function askForMajor(): void {
  void collector()?.({ type: "major", execution: "async" });
}

/** Sets this process's policy (once, at start: volume/main.ts); the counts start over. */
export function useStreamCollections(next: StreamCollections): void {
  policy = next;
  sinceMajor = 0;
  sinceMinor = 0;
}

/**
 * Counts blob bytes that passed through and asks for the collections the policy says;
 * returns which one it asked for, if any.
 */
export function noteStreamedBytes(bytes: number): "major" | "minor" | null {
  sinceMajor += bytes;
  sinceMinor += bytes;
  if (sinceMajor >= policy.majorEveryBytes) {
    // A major collection collects the young generation too.
    sinceMajor = 0;
    sinceMinor = 0;
    let sent = false;
    for (const listener of majorListeners) sent = listener() || sent;
    if (sent) setTimeout(askForMajor, MAJOR_NOTICE_MS).unref();
    else askForMajor();
    return "major";
  }
  if (policy.minorEveryBytes !== null && sinceMinor >= policy.minorEveryBytes) {
    sinceMinor = 0;
    // Synchronous: a volume's scavenges took 0.5–6 ms (median 2) with `--trace-gc` during
    // a 512 MiB PUT.
    void collector()?.({ type: "minor" });
    return "minor";
  }
  return null;
}
