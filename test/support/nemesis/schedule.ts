import type { LinkMode } from "../fault-proxy.js";
import { Rng } from "./rng.js";

/** The faults of issue 6. A "leader" target is resolved when the fault starts. */
export type FaultKind =
  | "kill-coordinator"
  | "pause-coordinator"
  | "isolate-coordinator"
  | "kill-volume"
  | "pause-volume"
  | "partition-volume"
  | "cut-volumes-from-coordinator"
  | "degrade-link"
  | "disk-full";

/** One step of a schedule: wait `gapMs`, inject, hold `durationMs`, heal. */
export interface ScheduledFault {
  readonly kind: FaultKind;
  /** A process name, or "leader" (the coordinator leading when the fault starts). */
  readonly target: string;
  readonly gapMs: number;
  readonly durationMs: number;
  /** degrade-link: which link and what it does. */
  readonly link?: string;
  readonly mode?: LinkMode;
}

/** What a schedule may use. */
export interface ScheduleSpace {
  readonly coordinators: readonly string[];
  /** Volumes that may be killed, paused or cut off. */
  readonly volumes: readonly string[];
  /** Link names of the cluster's proxies; empty without proxies (no link faults then). */
  readonly links: readonly string[];
  /** A volume on a small disk of its own, when one could be made. */
  readonly diskFullVolume: string | undefined;
  /** The Raft election timeout: pauses are longer than this (issue 6). */
  readonly electionTimeoutMs: number;
  /** Sum of gaps and durations to fill. */
  readonly totalMs: number;
}

/** Bounds of one step. */
const STEP = {
  gapMs: { min: 300, max: 1_500 },
  durationMs: { min: 800, max: 3_500 },
  /** Steps per schedule, whatever the length asked for. */
  countMax: 10_000,
} as const;

function linkMode(rng: Rng): LinkMode {
  const roll = rng.next();
  if (roll < 0.35) return { kind: "delay", delayMs: rng.int(20, 300) };
  if (roll < 0.65) return { kind: "slow", bytesPerSecond: rng.int(16, 256) * 1024 };
  if (roll < 0.85) return { kind: "drop" };
  return { kind: "reset" };
}

function kinds(space: ScheduleSpace): FaultKind[] {
  const all: FaultKind[] = ["kill-coordinator", "pause-coordinator", "kill-volume", "pause-volume"];
  if (space.links.length > 0) {
    all.push("isolate-coordinator", "partition-volume", "cut-volumes-from-coordinator", "degrade-link");
  }
  if (space.diskFullVolume !== undefined) all.push("disk-full");
  return all;
}

function step(rng: Rng, space: ScheduleSpace): ScheduledFault {
  const kind = rng.pick(kinds(space));
  const gapMs = rng.int(STEP.gapMs.min, STEP.gapMs.max);
  let durationMs = rng.int(STEP.durationMs.min, STEP.durationMs.max);
  const coordinator = (): string => (rng.next() < 0.5 ? "leader" : rng.pick(space.coordinators));
  switch (kind) {
    case "kill-coordinator":
    case "isolate-coordinator":
    case "cut-volumes-from-coordinator":
      return { kind, target: coordinator(), gapMs, durationMs };
    case "pause-coordinator":
      durationMs = Math.max(durationMs, 3 * space.electionTimeoutMs);
      return { kind, target: coordinator(), gapMs, durationMs };
    case "kill-volume":
    case "pause-volume":
    case "partition-volume":
      return { kind, target: rng.pick(space.volumes), gapMs, durationMs };
    case "degrade-link":
      return { kind, target: "-", gapMs, durationMs, link: rng.pick(space.links), mode: linkMode(rng) };
    case "disk-full":
      return { kind, target: space.diskFullVolume!, gapMs, durationMs };
  }
}

/**
 * The nemesis schedule of a seed: one fault at a time (so at most one coordinator, a
 * minority, and one volume, fewer than N, are ever down: DESIGN.md §2's bound), each
 * followed by its heal, until `totalMs` is filled. Pure: the same seed and space give the
 * same schedule.
 */
export function generateSchedule(seed: number, space: ScheduleSpace): ScheduledFault[] {
  const rng = new Rng(seed).fork(1_000);
  const schedule: ScheduledFault[] = [];
  let plannedMs = 0;
  while (plannedMs < space.totalMs && schedule.length < STEP.countMax) {
    const next = step(rng, space);
    schedule.push(next);
    plannedMs += next.gapMs + next.durationMs;
  }
  return schedule;
}

/** One line per step, for failure messages. */
export function describeFault(fault: ScheduledFault): string {
  const what = fault.kind === "degrade-link" ? `${fault.link} ${JSON.stringify(fault.mode)}` : fault.target;
  return `+${fault.gapMs}ms ${fault.kind} ${what} for ${fault.durationMs}ms`;
}
