import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc's CPU times (100 on Linux almost everywhere). */
const CLOCK_TICKS_PER_SECOND =
  Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/**
 * CPU time (user + system, every thread) process `pid` has used, in seconds, from
 * /proc/<pid>/stat (Linux). Throws when the process is gone or there is no /proc.
 */
export function cpuSecondsOf(pid: number): number {
  // Fields after "(comm) ": state is [0], utime [11], stime [12].
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}
