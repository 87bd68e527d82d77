/**
 * The operator jobs running on this coordinator and the ones that finished recently. A job
 * runs in the background of the coordinator that received the request; clients poll it by id.
 */
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { ErrorCode, MinikvError, toMinikvError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";

export type JobType = "verify" | "repair" | "rebalance" | "compact";
export type JobState = "running" | "succeeded" | "failed";
export type JobReport = Record<string, unknown>;

/** A job as the API shows it (the shape cli/admin-commands.ts reads, plus times and options). */
export interface JobView {
  readonly id: string;
  readonly type: JobType;
  readonly state: JobState;
  readonly progress: { readonly done: number; readonly total: number };
  /** Set once the job has finished (succeeded, or failed after producing one). */
  readonly report: JobReport | null;
  /** Why the job failed; null otherwise. */
  readonly error: string | null;
  readonly coordinator: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly startedAtMs: number;
  readonly finishedAtMs: number | null;
}

/** What a running job is given: where to report progress, and a signal that asks it to stop. */
export interface JobContext {
  /** Records progress; `total` may be an estimate and is raised to `done` when below it. */
  readonly progress: (done: number, total: number) => void;
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export type JobRun = (context: JobContext) => Promise<JobReport>;

/**
 * Types that may not run together on one coordinator: repair and rebalance both move copies
 * and drop old ones, and two movers working on one key from different plans could each drop
 * the copy the other kept.
 */
const EXCLUSIVE_GROUPS: readonly (readonly JobType[])[] = [["repair", "rebalance"]];

/** Calls in flight on one job's abort signal (scan and move concurrency, with headroom). */
const JOB_SIGNAL_LISTENERS_MAX = 256;

interface JobEntry {
  view: JobView;
  /** Start order: breaks ties between jobs started within the same millisecond. */
  readonly sequence: number;
  readonly abort: AbortController;
  done: Promise<void>;
}

export interface JobRegistryOptions {
  readonly coordinatorId: string;
  readonly logger: Logger;
  /** Finished jobs remembered. */
  readonly historyMax: number;
  readonly now?: () => number;
}

/**
 * Starts jobs and keeps their state. One job of a type (or of an exclusive group) runs at a
 * time: a second start is refused with CONFLICT naming the running job. Finished jobs are
 * remembered up to `historyMax`, oldest forgotten first.
 */
export class JobRegistry {
  private readonly jobs = new Map<string, JobEntry>();
  private readonly now: () => number;
  private sequence = 0;
  private closed = false;

  constructor(private readonly options: JobRegistryOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Starts `run` in the background and returns the job as it is now (running). */
  start(type: JobType, options: Readonly<Record<string, unknown>>, run: JobRun): JobView {
    if (this.closed) throw new MinikvError(ErrorCode.SHUTTING_DOWN, "the coordinator is shutting down");
    const blocking = this.runningBlocking(type);
    if (blocking !== undefined) {
      throw new MinikvError(
        ErrorCode.CONFLICT,
        `a ${blocking.view.type} job is already running: ${blocking.view.id}`,
        { detail: { job: blocking.view.id } },
      );
    }
    this.sequence += 1;
    const entry: JobEntry = {
      sequence: this.sequence,
      view: {
        id: this.newId(type),
        type,
        state: "running",
        progress: { done: 0, total: 0 },
        report: null,
        error: null,
        coordinator: this.options.coordinatorId,
        options,
        startedAtMs: this.now(),
        finishedAtMs: null,
      },
      abort: new AbortController(),
      done: Promise.resolve(),
    };
    // Every volume call of a job listens on its signal; a scan keeps dozens in flight.
    setMaxListeners(JOB_SIGNAL_LISTENERS_MAX, entry.abort.signal);
    this.jobs.set(entry.view.id, entry);
    entry.done = this.execute(entry, run);
    return entry.view;
  }

  get(id: string): JobView | undefined {
    return this.jobs.get(id)?.view;
  }

  /** Running jobs first, then finished ones, newest first. */
  list(): JobView[] {
    const rank = (entry: JobEntry): number => (entry.view.state === "running" ? 0 : 1);
    return [...this.jobs.values()]
      .sort((a, b) => rank(a) - rank(b) || b.sequence - a.sequence)
      .map((entry) => entry.view);
  }

  /** Resolves once the job has finished (for tests and shutdown); undefined ids resolve at once. */
  async settled(id: string): Promise<JobView | undefined> {
    await this.jobs.get(id)?.done;
    return this.get(id);
  }

  /** Refuses new jobs, asks running ones to stop, and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.jobs.values()].filter((entry) => entry.view.state === "running");
    for (const entry of running) entry.abort.abort(new MinikvError(ErrorCode.SHUTTING_DOWN, "shutting down"));
    await Promise.all(running.map((entry) => entry.done));
  }

  private async execute(entry: JobEntry, run: JobRun): Promise<void> {
    const logger = this.options.logger.child({ job: entry.view.id });
    const context: JobContext = {
      progress: (done, total) => {
        if (entry.view.state !== "running") return;
        entry.view = { ...entry.view, progress: { done, total: Math.max(done, total) } };
      },
      signal: entry.abort.signal,
      logger,
    };
    logger.info({ type: entry.view.type, options: entry.view.options }, "job started");
    try {
      // run() starts at once; start() returns at its first await, with the job registered.
      const report = await run(context);
      const { done, total } = entry.view.progress;
      this.finish(entry, { state: "succeeded", report, progress: { done: Math.max(done, total), total } });
      logger.info({ report: summaryOf(report) }, "job succeeded");
    } catch (err) {
      const error = toMinikvError(err);
      this.finish(entry, { state: "failed", error: `${error.code}: ${error.message}` });
      logger.error({ err }, "job failed");
    }
  }

  private finish(entry: JobEntry, change: Partial<JobView>): void {
    entry.view = { ...entry.view, ...change, finishedAtMs: this.now() };
    this.forgetOldest();
  }

  private forgetOldest(): void {
    const finished = [...this.jobs.values()]
      .filter((entry) => entry.view.state !== "running")
      .sort((a, b) => (a.view.finishedAtMs ?? 0) - (b.view.finishedAtMs ?? 0) || a.sequence - b.sequence);
    for (const entry of finished.slice(0, Math.max(0, finished.length - this.options.historyMax))) {
      this.jobs.delete(entry.view.id);
    }
  }

  private runningBlocking(type: JobType): JobEntry | undefined {
    const group = EXCLUSIVE_GROUPS.find((types) => types.includes(type)) ?? [type];
    return [...this.jobs.values()].find(
      (entry) => entry.view.state === "running" && group.includes(entry.view.type),
    );
  }

  /** URL-safe and unique: type, a per-process sequence, and random bits (ids outlive restarts in logs). */
  private newId(type: JobType): string {
    return `${type}-${this.sequence}-${randomBytes(4).toString("hex")}`;
  }
}

/** The counts of a report without its sample lists, for one log line. */
function summaryOf(report: JobReport): JobReport {
  return Object.fromEntries(Object.entries(report).filter(([, value]) => !Array.isArray(value)));
}
