import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { ErrorCode, MinikvError } from "../common/errors.js";
import { SERVER_ENV, SERVER_NODE_FLAGS, type ServerRole } from "../common/node-flags.js";
import { CoordinatorClient } from "./coordinator-client.js";

/** One process of the local cluster. */
interface Member {
  readonly name: string;
  readonly role: ServerRole;
  readonly script: string;
  readonly args: readonly string[];
  readonly healthUrl: string;
  child: ChildProcess | undefined;
  /** Settles once the running child has exited and all its output is in its log file. */
  logged: Promise<void>;
  restarts: number;
}

export interface DevOptions {
  readonly dir: string;
  readonly coordinators: number;
  readonly volumes: number;
  readonly replicas: number;
  readonly coordinatorBasePort: number;
  readonly volumeBasePort: number;
}

const HEALTH_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
/** How long after a child's exit its output pipes may take to close (a grandchild may hold them). */
const OUTPUT_DRAIN_MS = 2_000;
const RESTART_DELAY_MS_MAX = 10_000;
const HOST = "127.0.0.1";

export function registerDevCommand(program: Command): void {
  program
    .command("dev")
    .description("run a whole cluster locally (coordinators and volumes) in one process tree")
    .option("--dir <path>", "data and logs directory; run again to resume with its data", "./minikv-data")
    .option("--coordinators <n>", "number of coordinators (1, 3 or 5)", "3")
    .option("--volumes <n>", "number of volume servers", "3")
    .option("--replicas <n>", "replicas per blob (default: min(3, volumes))")
    .option("--coordinator-port <port>", "first coordinator HTTP port (each takes two: HTTP, gRPC)", "5000")
    .option("--volume-port <port>", "first volume HTTP port (each takes two: HTTP, gRPC)", "6000")
    .addHelpText("after", "\nExamples:\n  minikv dev\n  minikv dev --dir /tmp/kv --volumes 4")
    .action(async (raw: Record<string, string | undefined>) => {
      await runDevCluster(toDevOptions(raw));
    });
}

function toDevOptions(raw: Record<string, string | undefined>): DevOptions {
  const int = (name: string, value: string | undefined, min: number, max: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `--${name} must be an integer in [${min}, ${max}]`);
    }
    return n;
  };
  const volumes = int("volumes", raw["volumes"], 1, 32);
  return {
    dir: resolve(raw["dir"] ?? "./minikv-data"),
    coordinators: int("coordinators", raw["coordinators"], 1, 7),
    volumes,
    replicas:
      raw["replicas"] === undefined ? Math.min(3, volumes) : int("replicas", raw["replicas"], 1, volumes),
    coordinatorBasePort: int("coordinator-port", raw["coordinatorPort"], 1024, 65000),
    volumeBasePort: int("volume-port", raw["volumePort"], 1024, 65000),
  };
}

/** The compiled entry points beside this file (dist/cli → dist/coordinator, dist/volume). */
function binPath(name: "coordinator" | "volume"): string {
  const path = join(dirname(fileURLToPath(import.meta.url)), "..", name, "main.js");
  if (!existsSync(path))
    throw new MinikvError(ErrorCode.UNAVAILABLE, `${path} is missing: run "npm run build" first`);
  return path;
}

/** Lays out ports, directories and flags for every member (DESIGN.md §3 flags). */
export function planCluster(options: DevOptions): Omit<Member, "child" | "logged" | "restarts">[] {
  const coords = Array.from({ length: options.coordinators }, (_, i) => ({
    id: `coord-${i + 1}`,
    http: options.coordinatorBasePort + 2 * i,
    grpc: options.coordinatorBasePort + 2 * i + 1,
  }));
  const coordinatorUrls = coords.map((c) => `http://${HOST}:${c.http}`).join(",");
  const coordinatorMembers = coords.map((c) => ({
    name: c.id,
    role: "coordinator" as const,
    script: binPath("coordinator"),
    healthUrl: `http://${HOST}:${c.http}/health`,
    args: [
      "serve",
      ...["--id", c.id, "--bind", `${HOST}:${c.http}`, "--grpc", `${HOST}:${c.grpc}`],
      ...["--db", join(options.dir, c.id), "--replicas", String(options.replicas)],
      ...["--peers", coords.map((p) => `${p.id}=${HOST}:${p.grpc}`).join(",")],
    ],
  }));
  const volumeMembers = Array.from({ length: options.volumes }, (_, i) => {
    const id = `vol-${i + 1}`;
    const http = options.volumeBasePort + 2 * i;
    return {
      name: id,
      role: "volume" as const,
      script: binPath("volume"),
      healthUrl: `http://${HOST}:${http}/health`,
      args: [
        "serve",
        ...["--id", id, "--bind", `${HOST}:${http}`, "--grpc", `${HOST}:${http + 1}`],
        ...["--data", join(options.dir, id, "data"), "--wal", join(options.dir, id, "wal")],
        ...["--coordinators", coordinatorUrls],
      ],
    };
  });
  return [...coordinatorMembers, ...volumeMembers];
}

async function runDevCluster(options: DevOptions): Promise<void> {
  await mkdir(join(options.dir, "logs"), { recursive: true });
  const members: Member[] = planCluster(options).map((m) => ({
    ...m,
    child: undefined,
    logged: Promise.resolve(),
    restarts: 0,
  }));
  let stopping = false;
  const start = (member: Member): void => {
    const log = createWriteStream(join(options.dir, "logs", `${member.name}.log`), { flags: "a" });
    // In a process group of its own: a terminal's Ctrl-C reaches this supervisor only, which
    // then stops each server with one SIGTERM. Reached by the Ctrl-C too, a server would
    // take the SIGTERM as a second signal and exit without its clean close.
    const child = spawn(
      process.execPath,
      [...SERVER_NODE_FLAGS[member.role], member.script, ...member.args],
      {
        env: { ...process.env, ...SERVER_ENV },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      },
    );
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    member.child = child;
    member.logged = logOutputOf(child, log);
    child.on("exit", (code, signal) => {
      if (stopping) return;
      // A member that dies is restarted with backoff: the cluster keeps serving meanwhile.
      member.restarts++;
      const delayMs = Math.min(RESTART_DELAY_MS_MAX, 250 * 2 ** Math.min(member.restarts, 6));
      process.stderr.write(
        `${member.name} exited (${signal ?? `code ${code}`}); restarting in ${delayMs} ms — see logs/${member.name}.log\n`,
      );
      setTimeout(() => (stopping ? undefined : start(member)), delayMs).unref();
    });
  };
  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all(members.map((m) => stopMember(m.child).then(() => m.logged)));
  };
  // Every signal stays handled while the servers stop: `npm start` passes a Ctrl-C on to this
  // process, which the terminal has signalled already, and a second signal must not end the
  // supervisor before the servers it is stopping (their output would have nowhere to go).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      process.stderr.write("\nstopping the cluster…\n");
      void stopAll().then(() => process.exit(0));
    });
  }
  for (const member of members) start(member);
  try {
    await Promise.all(members.map((m) => waitHealthy(m.healthUrl, m.name, () => stopping)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  // Healthy servers are not yet a cluster that takes writes: a leader is elected and the
  // volumes register with it a moment later. The welcome waits for that, so that the first
  // command it suggests works.
  const first = `http://${HOST}:${options.coordinatorBasePort}`;
  const writable = await waitWritable(first, options.replicas, () => stopping);
  if (!stopping) {
    if (!writable) {
      process.stderr.write(
        `warning: ${first}/v1/cluster shows no leader or fewer than ${options.replicas} volumes taking writes after ${HEALTH_TIMEOUT_MS} ms; writes fail until it does\n`,
      );
    }
    printWelcome(options, members);
  }
  await new Promise<never>(() => undefined);
}

/**
 * Whether `<url>/v1/cluster` names a leader and at least `replicas` volumes alive and not
 * full, polled until it does; false after HEALTH_TIMEOUT_MS, or at once when stopping.
 */
function waitWritable(url: string, replicas: number, stopping: () => boolean): Promise<boolean> {
  return pollUntil(async () => {
    const cluster = (await getJson(`${url}/v1/cluster`)) as {
      leader?: unknown;
      volumes?: { state?: unknown; full?: unknown }[];
    } | null;
    const taking = (cluster?.volumes ?? []).filter((v) => v.state === "alive" && v.full !== true);
    return typeof cluster?.leader === "string" && cluster.leader !== "" && taking.length >= replicas;
  }, stopping);
}

/** Probes `url` until it answers 200; gives up quietly once the cluster is stopping. */
async function waitHealthy(url: string, name: string, stopping: () => boolean): Promise<void> {
  // A stopping server answers 503, and probing it on would only keep its connection busy.
  if ((await pollUntil(async () => (await getJson(url)) !== null, stopping)) || stopping()) return;
  throw new MinikvError(
    ErrorCode.UNAVAILABLE,
    `${name} did not become healthy at ${url} within ${HEALTH_TIMEOUT_MS} ms`,
  );
}

/** Asks `check` every 200 ms until it holds (true), or until HEALTH_TIMEOUT_MS or a stop (false). */
async function pollUntil(check: () => Promise<boolean>, stopping: () => boolean): Promise<boolean> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping()) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** One probe: GET `url` on a connection of its own and parse its JSON body; null unless 2xx. */
function getJson(url: string): Promise<unknown> {
  const { origin, pathname } = new URL(url);
  return new CoordinatorClient([origin])
    .json({
      method: "GET",
      path: pathname,
      retryable: true,
      timeoutMs: 1000,
      headers: { connection: "close" },
    })
    .catch(() => null);
}

/**
 * Ends `log` once `child` has exited and its output pipes are drained: "exit" may come before
 * the last lines are read, and those (a server's clean-close record) belong in the log.
 */
function logOutputOf(child: ChildProcess, log: WriteStream): Promise<void> {
  return new Promise((resolveLogged) => {
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      child.stdout?.unpipe(log);
      child.stderr?.unpipe(log);
      log.end(() => resolveLogged());
    };
    log.on("error", () => resolveLogged());
    child.once("close", end);
    child.once("exit", () => setTimeout(end, OUTPUT_DRAIN_MS).unref());
  });
}

function stopMember(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill("SIGTERM");
  });
}

function printWelcome(options: DevOptions, members: readonly Member[]): void {
  const first = `http://${HOST}:${options.coordinatorBasePort}`;
  const lines = [
    `minikv is running: ${options.coordinators} coordinators, ${options.volumes} volumes, ${options.replicas} replicas per blob`,
    `data and logs: ${options.dir}`,
    "",
    ...members.map((m) => `  ${m.name.padEnd(10)} ${m.healthUrl.replace(/\/health$/, "")}`),
    "",
    "try:",
    `  echo hello | curl -sS -X PUT --data-binary @- ${first}/v1/blobs/greeting.txt`,
    `  curl -sS ${first}/v1/blobs/greeting.txt`,
    `  minikv put photos/cat.jpg --file ./cat.jpg --coordinator ${first}`,
    `  minikv status --coordinator ${first}`,
    "",
    "Ctrl-C stops everything; run the same command again to resume with this data.",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
