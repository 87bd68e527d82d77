import { execFile } from "node:child_process";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Bytes written per call while filling a disk; the fill is bounded by the disk's size. */
const FILL_CHUNK_BYTES = 1024 * 1024;

/** Whether this process may mount the tmpfs disks below (root): tests that need one run only then. */
export const canMountSmallDisks = process.getuid?.() === 0;

/**
 * Mounts a tmpfs of `sizeBytes` on `dir`: a real file system that answers ENOSPC when full,
 * without touching the machine's disk. Needs root (CAP_SYS_ADMIN); resolves false otherwise.
 */
export async function mountSmallDisk(dir: string, sizeBytes: number): Promise<boolean> {
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "minikv-test-disk", dir]);
    return true;
  } catch {
    return false;
  }
}

/** Disks mounted by mountSmallDiskIn and not yet unmounted by unmountSmallDisks. */
const mountedDisks = new Set<string>();

/**
 * Makes `root`/`name` and mounts a tmpfs of `sizeBytes` on it (mountSmallDisk); throws if it
 * cannot. unmountSmallDisks() unmounts it (call it in afterEach).
 */
export async function mountSmallDiskIn(root: string, name: string, sizeBytes: number): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  if (!(await mountSmallDisk(dir, sizeBytes))) {
    throw new Error(`cannot mount a ${sizeBytes}-byte tmpfs on ${dir} (needs root)`);
  }
  mountedDisks.add(dir);
  return dir;
}

/** Unmounts every disk mountSmallDiskIn mounted. */
export async function unmountSmallDisks(): Promise<void> {
  for (const dir of mountedDisks) await unmountSmallDisk(dir);
  mountedDisks.clear();
}

export async function unmountSmallDisk(dir: string): Promise<void> {
  await run("umount", [dir]).catch(() => run("umount", ["-l", dir]).catch(() => undefined));
}

/**
 * Appends to `dir`/`name` until the file system answers ENOSPC, leaving it with no free
 * byte; resolves with the bytes written.
 */
export async function fillDisk(dir: string, name: string): Promise<number> {
  const file = await open(join(dir, name), "a");
  const chunk = Buffer.alloc(FILL_CHUNK_BYTES, 0x5a);
  let written = 0;
  try {
    // Bounded: a file system of S bytes takes at most S / chunk writes.
    for (let i = 0; i < 1_000_000; i++) written += (await file.write(chunk)).bytesWritten;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    await file.close();
  }
  return written;
}
