/**
 * V8 flags every minikv server process runs with, by role; each launcher passes them:
 * `minikv dev` (cli/dev-command.ts), scripts/cluster-up.sh, the Dockerfile (in its ENTRYPOINT;
 * docker-compose.yml gives the volumes theirs) and the tests' process harness. Flags given
 * after them win.
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
 * `--initial-old-space-size=128`: the old generation may grow to 128 MiB before V8 first
 * collects it. By default V8 sizes its next major collection from the live heap (16–27 MiB
 * in a coordinator), and a blob stream promotes enough chunk buffers that a major
 * collection then ran every few MiB of blob bytes: about 12 per 64 MiB PUT on the leader,
 * most of its CPU. With the flag at 64 none ran during 64 MiB PUTs by V8's own choice, and
 * CPU per 64 MiB PUT fell from 650–1,060 to 280–460 ms on the leader and from 470–570 to
 * 280–340 ms on each volume (one PUT at a time, two cluster restarts each way); the major
 * collections a stream asks for itself to bound RSS (stream-memory.ts) brought the leader to
 * 550–600 ms, until the upload's frames were reused (volume-client.ts, sharedChunk):
 * 225–391 ms.
 * 128 rather than 64 for a coordinator whose read cache is full (coordinator/read-cache.ts,
 * 128 MiB of small values: some 15 MiB more of live heap). V8 counts the external memory
 * (Buffers' bytes) allocated since its last major collection against the old generation's
 * limit, and starts marking once what is left is under the young generation's size. At 64
 * a leader with a full cache, 37 MiB live, ran incremental major collections three to four
 * times a second while 64 MiB PUTs streamed through it (`--trace-incremental-marking`:
 * "Start (task)"; a fresh one, 21 MiB live, about one in 4.5 s), and spent 478–590 ms of
 * CPU per PUT against 235–293 at 128; the PUTs ran at 56–66 against 83–112 MB/s (40,000
 * 4 KiB PUTs first, two clusters each way in turns). A fresh cluster's memory test is
 * unchanged (the coordinator at 135–136 MiB for 512 MiB, 141 for 2 GiB). See
 * docs/BENCHMARKS.md, "A full read cache and large PUTs". Volumes keep 64, which they have
 * no read cache to outgrow: at 128 the volume of `test/blob-cluster.test.ts` that had taken
 * the most of the file's earlier uploads peaked at 143–159 MiB in its memory test (four runs
 * of the whole file, two over the 150 MiB bound), at 64 at 130–147 (two runs;
 * up to 149 over four clean-clone CI runs).
 * Node refuses the flag in NODE_OPTIONS, so launchers pass it on the command line.
 */
export const SERVER_NODE_FLAGS: Readonly<Record<ServerRole, readonly string[]>> = {
  coordinator: ["--max-semi-space-size=8", "--initial-old-space-size=128"],
  volume: ["--max-semi-space-size=8", "--initial-old-space-size=64"],
};

/** A server process's role: its launcher gives it that role's flags (SERVER_NODE_FLAGS). */
export type ServerRole = "coordinator" | "volume";

/**
 * Environment every minikv server process gets from its launcher (the same four as above).
 *
 * `MALLOC_MMAP_THRESHOLD_=4194304`: glibc serves allocations of 4 MiB and more with mmap,
 * and everything smaller from its heaps. Fixing the threshold also stops glibc from raising
 * it (and with it the point at which it gives freed heap back to the system) after each
 * mapped block is freed: with glibc's default a coordinator passing a 2 GiB upload peaked at
 * 144 MiB of RSS (two runs; 512 MiB: 137–139 in three), with 4 MiB at 138–139 (132–133).
 *
 * It was 128 KiB (131072) when a coordinator used a new 256 KiB buffer for every message of
 * an upload, so that each freed one went back to the system; those frames are now reused
 * (volume-client.ts, sharedChunk). At 128 KiB the buffers a server receives whole were each a
 * fresh mmap, faulted in page by page and unmapped again: a volume's 256 KiB upload messages
 * (grpc-js joins each message's HTTP/2 frames with `Buffer.concat`), Pipe batches of small
 * writes and Raft appends of up to a few hundred KiB. Against 128 KiB, a leader spent
 * 528–550 instead of 611–786 µs of CPU per 4 KiB PUT (three runs each way of
 * `scripts/cpu-per-op.sh --puts 30000`, coordinators without the fixed threshold), and
 * volumes without it took four 64 MiB PUTs at a time at 93.2 against 70.5 MB/s (medians of
 * nine rounds), at 216–356 against 343–493 ms of CPU per PUT each; 4 MiB against no fixed
 * threshold on the volumes: 88–132 against 72–103 MB/s, peak RSS 122–127 against 133–146 MiB
 * (docs/BENCHMARKS.md, "glibc's mmap threshold").
 *
 * `MALLOC_TOP_PAD_=1048576`: glibc keeps 1 MiB free at the top of a heap when it gives memory
 * back, and takes 1 MiB more than asked when it grows one (128 KiB by default). A leader
 * taking 4 KiB PUTs allocates and frees batch buffers of some tens of KiB to a few hundred
 * (Pipe batches, Raft appends, socket reads) many times a second; with 128 KiB kept, the
 * heap's top went back to the system and was faulted in again page by page (12 µs a fault
 * on this VM): 4.7–5.3 page faults per PUT on the leader, 1.0 on each follower, 0.5–1.1 on
 * each volume; with 1 MiB and `MALLOC_ARENA_MAX=2` 3.0, 0.4 and 0.2–0.3, and 1,526–1,582
 * instead of 1,670–1,910 µs of CPU per PUT for the six processes together (docs/BENCHMARKS.md,
 * "glibc's top pad and two heaps"). `MALLOC_ARENA_MAX=2`: at most two heaps, which all of a
 * process's threads share (glibc's default is up to eight per CPU), so the pad is kept
 * twice, not once for every heap a helper thread made: the memory test's coordinator stays
 * at 133–136 MiB (512 MiB upload) and 139 (2 GiB), as without either setting.
 */
export const SERVER_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: "4194304",
  MALLOC_TOP_PAD_: "1048576",
  MALLOC_ARENA_MAX: "2",
};
