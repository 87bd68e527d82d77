import { promises as fsp, readdirSync, readlinkSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import { createLogger } from "../common/logger.js";
import { tempVolume, type TempVolume } from "./store-test-support.js";
import { WriteAheadLog } from "./wal.js";
import type { WalEntry } from "./wal-record.js";

let volume: TempVolume | undefined;

afterEach(async () => {
  await volume?.remove();
  volume = undefined;
});

/** This process's open descriptors that point into `dir` (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  const paths: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) paths.push(target);
    } catch {
      // Closed since the listing (the listing's own descriptor among them).
    }
  }
  return paths;
}

const commit = (txid: string): WalEntry => ({ type: "commit", txid, version: 1, atMs: 1 });

describe("WriteAheadLog.close", () => {
  it("during a roll leaves no file of the WAL open, and the WAL reopens with every record", async () => {
    volume = await tempVolume();
    const logger = createLogger("test");
    const wal = await WriteAheadLog.open({ dir: volume.walDir, logger });
    await wal.replay(undefined, () => undefined);
    await wal.append(commit("first"), () => undefined);
    expect(openFilesUnder(volume.walDir).length).toBeGreaterThan(0);

    // The roll's new file is held at its open until close() has run.
    const realOpen = fsp.open;
    let reached: () => void = () => undefined;
    const atOpen = new Promise<void>((resolve) => (reached = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    fsp.open = async (...args: Parameters<typeof fsp.open>) => {
      if (/wal-\d{16}\.log$/.test(String(args[0]))) {
        reached();
        await released;
      }
      return realOpen(...args);
    };
    try {
      const rolling = wal.rollAt(() => "captured");
      await atOpen;
      const closing = wal.close();
      release();
      await expect(rolling).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
      await closing;
    } finally {
      fsp.open = realOpen;
    }
    expect(openFilesUnder(volume.walDir)).toEqual([]);

    const reopened = await WriteAheadLog.open({ dir: volume.walDir, logger });
    const seen: string[] = [];
    const stats = await reopened.replay(undefined, (entry) =>
      seen.push(entry.type === "commit" ? entry.txid : "?"),
    );
    await reopened.append(commit("after"), () => undefined);
    await reopened.close();
    expect(seen).toEqual(["first"]);
    expect(stats.corruptFiles).toEqual([]);
    expect(openFilesUnder(volume.walDir)).toEqual([]);
  });
});
