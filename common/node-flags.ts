/**
 * V8 flags every minikv server process (coordinator, volume) runs with; each launcher passes
 * them: `minikv dev` (cli/dev-command.ts), scripts/cluster-up.sh, the Dockerfile (as
 * NODE_OPTIONS) and the tests' process harness. Flags given after them win.
 *
 * `--max-semi-space-size=1`: V8 lets the young generation grow to 16 MiB semi-spaces under a
 * high allocation rate, which a server streaming a large blob has; the stream's chunks die
 * young, so a small young generation collects them sooner and holds the process's RSS about
 * 40 MiB lower. A coordinator passing a 512 MiB upload peaked at 117–121 MiB instead of
 * 161–164 (2 MiB semi-spaces: 130–136), a 2 GiB upload at 147 MiB (2 MiB: 151). Its JS heap
 * stays near 16–24 MiB throughout; the rest is code, buffers in flight and the allocator.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

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
