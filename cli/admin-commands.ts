import type { Command } from "commander";
import { ErrorCode, MinikvError } from "../common/errors.js";
import type { CommandContext, ContextFactory } from "./blob-commands.js";
import { formatBytes, table } from "./output.js";
import { jobProgress } from "./progress.js";

/** A server-side operator job (verify, repair, rebalance, compact) as the API reports it. */
export interface Job {
  readonly id: string;
  readonly type: string;
  readonly state: "running" | "succeeded" | "failed";
  readonly progress: { readonly done: number; readonly total: number };
  /**
   * The job's report once finished; `problems` counts what verify found, `unresolved` what
   * repair or rebalance left broken (0 = clean).
   */
  readonly report:
    ({ readonly problems?: number; readonly unresolved?: number } & Record<string, unknown>) | null;
  readonly error: string | null;
}

interface ClusterAnswer {
  readonly leader: string | null;
  readonly coordinators: readonly {
    id: string;
    role: string;
    term: number;
    commitIndex: number;
    appliedIndex: number;
    address: string;
  }[];
  readonly volumes: readonly { id: string; state: string; url: string; capacity: number; used: number }[];
  readonly shards: Record<string, unknown>;
  readonly replication: Record<string, unknown>;
}

const JOB_POLL_INTERVAL_MS = 500;

export function registerAdminCommands(program: Command, context: ContextFactory): void {
  program
    .command("status")
    .description("coordinators (role, term, commit), volumes and shard summary")
    .action(async (_options: unknown, command: Command) => {
      await status(context(command));
    });

  program
    .command("verify")
    .description("check that every key's replicas exist (exit 1 when problems are found)")
    .option("--deep", "also have each volume checksum the bytes where they lie")
    .action(async (options: { deep?: boolean }, command: Command) => {
      const job = await runJob(context(command), "verify", { deep: options.deep === true });
      if ((job.report?.problems ?? 0) > 0) process.exitCode = 1;
    });

  program
    .command("repair")
    .description(
      "re-replicate missing or corrupt copies to their placement targets; reclaim orphans (exit 1 when some are left)",
    )
    .option("--replicas <n>", "target replica count (default: the cluster's)")
    .option("--dry-run", "print the plan without changing anything")
    .action(async (options: { replicas?: string; dryRun?: boolean }, command: Command) => {
      const replicas =
        options.replicas === undefined ? undefined : positiveInt(options.replicas, "--replicas");
      const job = await runJob(context(command), "repair", {
        dryRun: options.dryRun === true,
        ...(replicas === undefined ? {} : { replicas }),
      });
      exitOnUnresolved(job);
    });

  program
    .command("rebalance")
    .description(
      "move data to where placement now puts it (after volumes were added, drained or lost; exit 1 when moves failed)",
    )
    .option("--dry-run", "print the plan without changing anything")
    .action(async (options: { dryRun?: boolean }, command: Command) => {
      const job = await runJob(context(command), "rebalance", { dryRun: options.dryRun === true });
      exitOnUnresolved(job);
    });

  program
    .command("compact")
    .description("run segment compaction now and report the space freed")
    .option("--shard <n>", "only segments holding this shard (0-255)")
    .option("--volume <id>", "only this volume")
    .action(async (options: { shard?: string; volume?: string }, command: Command) => {
      const body: Record<string, unknown> = {};
      if (options.shard !== undefined) body["shard"] = shardNumber(options.shard);
      if (options.volume !== undefined) body["volume"] = options.volume;
      await runJob(context(command), "compact", body);
    });

  const volume = program.command("volume").description("volume administration");
  volume
    .command("drain <id>")
    .description("stop placing new data on a volume; rebalance then moves its data away")
    .action(async (id: string, _options: unknown, command: Command) => {
      const ctx = context(command);
      await ctx.client.requestOk({
        method: "POST",
        path: `/v1/admin/volumes/${encodeURIComponent(id)}/drain`,
        retryable: true,
      });
      ctx.output.result(
        { volume: id, state: "draining" },
        () => `volume ${id} is draining; run "minikv rebalance" to move its data`,
      );
    });

  const coord = program.command("coord").description("coordinator membership (Raft)");
  coord
    .command("add <id> <address>")
    .description(
      "add a coordinator (joins as a learner, promoted once caught up); address is its gRPC HOST:PORT",
    )
    .action(async (id: string, address: string, _options: unknown, command: Command) => {
      const ctx = context(command);
      await ctx.client.requestOk({
        method: "POST",
        path: "/v1/admin/coordinators",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id, address }),
        retryable: false,
      });
      ctx.output.result(
        { coordinator: id, address, added: true },
        () => `coordinator ${id} added at ${address}`,
      );
    });
  coord
    .command("remove <id>")
    .description("remove a coordinator from the Raft group")
    .action(async (id: string, _options: unknown, command: Command) => {
      const ctx = context(command);
      await ctx.client.requestOk({
        method: "DELETE",
        path: `/v1/admin/coordinators/${encodeURIComponent(id)}`,
        retryable: false,
      });
      ctx.output.result({ coordinator: id, removed: true }, () => `coordinator ${id} removed`);
    });
}

async function status(ctx: CommandContext): Promise<void> {
  const cluster = await ctx.client.json<ClusterAnswer>({
    method: "GET",
    path: "/v1/cluster",
    retryable: true,
  });
  ctx.output.result(cluster, () =>
    [
      `leader: ${cluster.leader ?? "(none)"}`,
      "",
      table(
        ["COORDINATOR", "ROLE", "TERM", "COMMIT", "APPLIED", "ADDRESS"],
        cluster.coordinators.map((c) => [
          c.id,
          c.role,
          String(c.term),
          String(c.commitIndex),
          String(c.appliedIndex),
          c.address,
        ]),
      ),
      "",
      table(
        ["VOLUME", "STATE", "USED", "CAPACITY", "URL"],
        cluster.volumes.map((v) => [v.id, v.state, formatBytes(v.used), formatBytes(v.capacity), v.url]),
      ),
      "",
      `shards: ${JSON.stringify(cluster.shards)}`,
      `replication: ${JSON.stringify(cluster.replication)}`,
    ].join("\n"),
  );
}

/** Starts a job, follows its progress until it ends, prints its report; throws if it failed. */
export async function runJob(
  ctx: CommandContext,
  type: string,
  options: Record<string, unknown>,
): Promise<Job> {
  const started = await ctx.client.json<{ job: Job }>({
    method: "POST",
    path: `/v1/admin/${type}`,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(options),
    retryable: false,
  });
  const bar = jobProgress(type);
  let job = started.job;
  try {
    while (job.state === "running") {
      bar.update(job.progress.done, job.progress.total);
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_INTERVAL_MS));
      job = (
        await ctx.client.json<{ job: Job }>({
          method: "GET",
          path: `/v1/admin/jobs/${encodeURIComponent(job.id)}`,
          retryable: true,
        })
      ).job;
    }
  } finally {
    bar.stop();
  }
  if (job.state === "failed")
    throw new MinikvError(
      ErrorCode.INTERNAL,
      `${type} job ${job.id} failed: ${job.error ?? "unknown error"}`,
    );
  ctx.output.result(job, () => `${type} ${job.id}: ${job.state}\n${JSON.stringify(job.report, null, 2)}`);
  return job;
}

/** Exit status 1 when a repair or rebalance left problems it could not fix (its report's `unresolved`). */
function exitOnUnresolved(job: Job): void {
  const unresolved = job.report?.unresolved ?? 0;
  if (unresolved === 0) return;
  process.stderr.write(
    `${job.type} left ${unresolved} problem(s) unresolved; see "failures" in the report\n`,
  );
  process.exitCode = 1;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `${flag} must be a positive integer`);
  return n;
}

function shardNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 255)
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "--shard must be 0-255");
  return n;
}
