/**
 * V8 flags every minikv server process (coordinator, volume) runs with; each launcher passes
 * them: `minikv dev` (cli/dev-command.ts), scripts/cluster-up.sh, the Dockerfile (in its
 * ENTRYPOINT) and the tests' process harness. Flags given after them win.
 *
 * `--max-semi-space-size=8`: the young generation's semi-spaces may grow to 8 MiB (V8's
 * default allows 16). A server's small requests allocate short-lived objects at a high rate
 * (request and reply objects, promises, protobuf messages); with 1 MiB semi-spaces they
 * outlived a scavenge often enough to be promoted and collected again by the old
 * generation's collector, which cost 13–20% of a coordinator's CPU. At 8 MiB, CPU per
 * committed Raft proposal fell by half at c=256 (leader 207 → 101 µs, followers 132 → 79 µs
 * together; 3,210 → 5,308 proposals/s, `npm run bench:raft` beside each other) and CPU per
 * 4 KiB blob PUT by about 15–25% in every process. The cost is memory while a large blob
 * streams, as scavenges come less often: a coordinator passing a 512 MiB upload peaked near
 * 150 MiB (1 MiB: 114–136 MiB; 16 MiB semi-spaces: 161–185 MiB) until streams began asking
 * for a scavenge every 32 MiB (common/stream-memory.ts), which brought it to 134–138 MiB.
 *
 * `--initial-old-space-size=64`: the old generation may grow to 64 MiB before V8 first
 * collects it. By default V8 sizes its next major collection from the live heap (16–27 MiB
 * in a coordinator), and a blob stream promotes enough chunk buffers that a major
 * collection then ran every few MiB of blob bytes: about 12 per 64 MiB PUT on the leader,
 * most of its CPU. With the flag none ran during 64 MiB PUTs by V8's own choice, and CPU per
 * 64 MiB PUT fell from 650–1,060 to 280–460 ms on the leader and from 470–570 to 280–340 ms
 * on each volume (one PUT at a time, two cluster restarts each way); the major collections a
 * stream asks for itself to bound RSS (stream-memory.ts) brought the leader to 550–600 ms,
 * until the upload's frames were reused (volume-client.ts, sharedChunk): 225–391 ms.
 * See docs/BENCHMARKS.md.
 * Node refuses the flag in NODE_OPTIONS, so launchers pass it on the command line.
 */
export const SERVER_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=8",
  "--initial-old-space-size=64",
];

/**
 * Environment every minikv server process gets from its launcher (the same four as above).
 *
 * `MALLOC_MMAP_THRESHOLD_=131072`: glibc serves allocations of at least 128 KiB with mmap, so
 * freeing one returns its pages to the system. By default glibc raises that threshold each
 * time such a block is freed, after which a stream's 256 KiB chunk buffers come from its
 * heaps and their freed pages stay resident. With the threshold fixed, a coordinator passing
 * a 512 MiB upload peaked at 114–129 MiB instead of 125–146 MiB (three runs each).
 */
export const SERVER_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" };
