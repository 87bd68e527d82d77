import { setTimeout as sleep } from "node:timers/promises";
import type { Cluster } from "../cluster.js";
import type { ManagedProcess } from "../process-harness.js";
import { waitFor } from "../wait.js";
import { PASS } from "../fault-proxy.js";
import { describeFault, type ScheduledFault } from "./schedule.js";

/** A fault as it happened: the schedule's step with its resolved target and times. */
export interface ExecutedFault {
  readonly fault: ScheduledFault;
  /** The process the fault hit ("leader" resolved). */
  readonly target: string;
  readonly startMs: number;
  healedMs: number | undefined;
  /** What went wrong injecting or healing it (a process that would not restart, say). */
  error: string | undefined;
  /** For a kill: how long the restart took until the process listened again. */
  restartMs?: number;
}

/** Leader of the moment, or any coordinator when none is agreed on. */
async function resolveTarget(cluster: Cluster, fault: ScheduledFault): Promise<string> {
  if (fault.target !== "leader") return fault.target;
  const leader = await cluster.leader().catch(() => undefined);
  return leader?.name ?? cluster.coordinators[0]!.name;
}

function coordinatorLinks(cluster: Cluster, name: string): string[] {
  return cluster.coordinators
    .filter((c) => c.name !== name)
    .flatMap((c) => [`${name}->${c.name}`, `${c.name}->${name}`]);
}

/** Injects `fault` on `target`; returns the heal action. */
async function inject(cluster: Cluster, fault: ScheduledFault, target: string): Promise<() => Promise<void>> {
  const network = cluster.network;
  const setLinks = (names: string[], drop: boolean): void => {
    for (const name of names) network!.link(name).set(drop ? { kind: "drop" } : PASS);
  };
  switch (fault.kind) {
    case "kill-coordinator":
    case "kill-volume":
      await cluster.kill9(target);
      return () => cluster.restart(target);
    case "pause-coordinator":
    case "pause-volume":
      cluster.pause(target);
      return () => Promise.resolve(cluster.resume(target));
    case "isolate-coordinator": {
      const links = [...coordinatorLinks(cluster, target), `vols->${target}`];
      setLinks(links, true);
      return () => Promise.resolve(setLinks(links, false));
    }
    case "partition-volume":
      setLinks([`coords->${target}`], true);
      return () => Promise.resolve(setLinks([`coords->${target}`], false));
    case "cut-volumes-from-coordinator":
      setLinks([`vols->${target}`], true);
      return () => Promise.resolve(setLinks([`vols->${target}`], false));
    case "degrade-link": {
      const link = network!.link(fault.link!);
      link.set(fault.mode!);
      return () => Promise.resolve(link.set(PASS));
    }
    case "disk-full":
      await cluster.fillDisk(target);
      return () => cluster.freeDisk(target);
  }
}

/**
 * Runs `schedule` against the cluster until it ends or `endMs` (performance.now()) passes:
 * each step waits its gap, injects, holds, heals. Errors (a process that does not come back)
 * are recorded on the step, not thrown: the run's checks report them with the schedule.
 */
export async function runNemesis(
  cluster: Cluster,
  schedule: readonly ScheduledFault[],
  endMs: number,
  executed: ExecutedFault[],
  log: (line: string) => void,
): Promise<void> {
  for (const fault of schedule) {
    if (performance.now() + fault.gapMs >= endMs) break;
    await sleep(fault.gapMs);
    const target = await resolveTarget(cluster, fault);
    const record: ExecutedFault = {
      fault,
      target,
      startMs: performance.now(),
      healedMs: undefined,
      error: undefined,
    };
    executed.push(record);
    log(`${describeFault(fault)} → ${target}`);
    let heal: (() => Promise<void>) | undefined;
    try {
      heal = await inject(cluster, fault, target);
    } catch (err) {
      record.error = `inject: ${(err as Error).message}`;
    }
    await sleep(Math.max(0, Math.min(fault.durationMs, endMs - performance.now())));
    try {
      const healStartMs = performance.now();
      await heal?.();
      if (fault.kind.startsWith("kill-")) record.restartMs = performance.now() - healStartMs;
    } catch (err) {
      record.error = `${record.error ?? ""} heal: ${(err as Error).message}`.trim();
    }
    record.healedMs = performance.now();
  }
}

/** Undoes every fault that may still be in effect: links, pauses, stopped processes, full disks. */
export async function healAll(cluster: Cluster): Promise<void> {
  cluster.network?.heal();
  for (const node of [...cluster.coordinators, ...cluster.volumes]) {
    cluster.resume(node.name);
    if (node.diskDir !== undefined) await cluster.freeDisk(node.name);
  }
  for (const node of [...cluster.coordinators, ...cluster.volumes]) {
    if (!node.process.running) await cluster.restart(node.name);
  }
  // A restart that outlived its start timeout may still come up: give it the same time again.
  for (const node of [...cluster.coordinators, ...cluster.volumes]) {
    await waitFor(`${node.name} listening`, () => (hasListened(node.process) ? true : undefined), {
      timeoutMs: LATE_START_MS,
      intervalMs: 100,
    });
  }
}

const LATE_START_MS = 60_000;

function hasListened(process: ManagedProcess): boolean {
  try {
    return process.listening.event === "listening";
  } catch {
    return false;
  }
}
