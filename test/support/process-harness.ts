import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync, rmSync, type WriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { SERVER_ENV, SERVER_NODE_FLAGS, type ServerRole } from "../../common/node-flags.js";

/**
 * A harness for tests and benchmarks that run real minikv processes: it spawns
 * `node <script>` children, learns their addresses from the JSON "listening" line they print
 * on stdout, captures stdout and stderr into log files, kills them by PID (SIGKILL for crash
 * tests, SIGTERM for a graceful stop), restarts them with the same arguments and data
 * directories, and always stops exactly the processes it started and removes its temp dir.
 */

/** The repository root, both from source (test/support/) and from dist/test/support/. */
export const REPO_ROOT = findRepoRoot();

function findRepoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = resolve(here, "..", "..");
  return basename(up) === "dist" ? dirname(up) : up;
}

/** The line a minikv server prints on stdout once its ports are bound. */
/** Whether a process with this PID exists (signal 0 checks without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface ListeningEvent {
  readonly event: "listening";
  readonly id?: string;
  /** "host:port" of the HTTP listener. */
  readonly http?: string;
  /** "host:port" of the gRPC listener. */
  readonly grpc?: string;
  readonly [field: string]: unknown;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** How to run one process. Arguments and environment are reused unchanged by restart(). */
export interface ProcessSpec {
  /** Names the log file and error messages, e.g. "coord-1". */
  readonly name: string;
  /** Run with the current node binary; relative paths are from the repository root. */
  readonly script: string;
  /**
   * A minikv server's role: it runs with that role's V8 flags (SERVER_NODE_FLAGS) and the
   * servers' environment (SERVER_ENV); neither for other scripts.
   */
  readonly role?: ServerRole;
  readonly args: readonly string[];
  /** Options for node itself, after the role's SERVER_NODE_FLAGS and before the script (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** Added to the parent's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** How long start() waits for the listening line (default 15 s). */
  readonly readyTimeoutMs?: number;
  /**
   * Run at this nice value in a session of its own whose autogroup gets the same nice
   * (benchmarks on a shared machine, as ../shared/peers/lib/common.sh does). The PID stays
   * the node process's: `setsid` and `nice` exec in place.
   */
  readonly nice?: number;
}

/** setsid + autogroup nice + nice, each exec'ing in place so the PID is node's. */
const PRIORITY_WRAPPER = 'echo "$0" >/proc/self/autogroup 2>/dev/null || true; exec nice -n "$0" "$@"';

function commandLine(spec: ProcessSpec, script: string): { command: string; args: string[] } {
  const flags = spec.role === undefined ? [] : SERVER_NODE_FLAGS[spec.role];
  const node = [process.execPath, ...flags, ...(spec.nodeArgs ?? []), script, ...spec.args];
  if (spec.nice === undefined) return { command: process.execPath, args: node.slice(1) };
  return { command: "setsid", args: ["sh", "-c", PRIORITY_WRAPPER, String(spec.nice), ...node] };
}

const READY_TIMEOUT_MS_DEFAULT = 15_000;
const STOP_TIMEOUT_MS_DEFAULT = 10_000;
const LOG_TAIL_LINES_DEFAULT = 40;

/** Every live child of every harness, killed synchronously if the test process exits early. */
const liveChildren = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

/** One supervised child process; it may be started, crashed and restarted many times. */
export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  private readonly spec: ProcessSpec;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<ExitInfo> | undefined;
  private log: WriteStream | undefined;
  private lastListening: ListeningEvent | undefined;
  private startCount = 0;

  constructor(spec: ProcessSpec, logDir: string) {
    this.spec = spec;
    this.name = spec.name;
    this.logPath = join(logDir, `${spec.name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** How many times start() has been called. */
  get starts(): number {
    return this.startCount;
  }

  /** The listening line of the current (or last) run. Throws before the first one. */
  get listening(): ListeningEvent {
    if (this.lastListening === undefined) throw new Error(`${this.name} has not reported listening`);
    return this.lastListening;
  }

  /** "http://host:port" of the current run's HTTP listener. */
  get httpUrl(): string {
    const http = this.listening.http;
    if (http === undefined) throw new Error(`${this.name} reported no http address`);
    return `http://${http}`;
  }

  /** Spawns the process and resolves with its listening line; rejects (with the log tail) if it exits first. */
  async start(): Promise<ListeningEvent> {
    if (this.child !== undefined) throw new Error(`${this.name} is already running`);
    this.startCount++;
    this.lastListening = undefined;
    const log = this.openLog();
    const { command, args } = commandLine(this.spec, this.scriptPath());
    const child = spawn(command, args, {
      cwd: this.spec.cwd ?? REPO_ROOT,
      env: { ...process.env, ...(this.spec.role === undefined ? {} : SERVER_ENV), ...this.spec.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    liveChildren.add(child);
    this.exitPromise = new Promise((resolveExit) => {
      // "close" comes after the child's stdout and stderr ended; resolving once the last log
      // line is written means a caller reading the log after the exit sees all of it.
      child.once("close", (code, signal) => {
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        log.write(`--- ${this.name} exited code=${code} signal=${signal}\n`, () =>
          resolveExit({ code, signal }),
        );
      });
    });
    child.stderr?.pipe(log, { end: false });
    return this.awaitListening(child, this.exitPromise);
  }

  /** Sends `signal` (default SIGKILL: a crash) to the PID and waits for the exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<ExitInfo> {
    const child = this.child;
    const exit = this.exitPromise;
    if (child === undefined || exit === undefined) throw new Error(`${this.name} is not running`);
    child.kill(signal);
    return exit;
  }

  /** SIGTERM, then SIGKILL if the process has not exited within `timeoutMs`. */
  async stop(timeoutMs = STOP_TIMEOUT_MS_DEFAULT): Promise<ExitInfo> {
    const child = this.child;
    const exit = this.exitPromise;
    if (child === undefined || exit === undefined) throw new Error(`${this.name} is not running`);
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    const first = await Promise.race([exit, timedOut]);
    clearTimeout(timer);
    if (first !== "timeout") return first;
    child.kill("SIGKILL");
    return exit;
  }

  /** Starts again with the same arguments, environment and data directories. */
  async restart(): Promise<ListeningEvent> {
    return this.start();
  }

  /** Resolves when the current run exits (immediately with nulls when not running). */
  async exited(): Promise<ExitInfo> {
    return this.child === undefined || this.exitPromise === undefined
      ? { code: null, signal: null }
      : this.exitPromise;
  }

  /** The last lines of the log file, for failure messages. */
  logTail(lines = LOG_TAIL_LINES_DEFAULT): string {
    try {
      return readFileSync(this.logPath, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Closes the log file; called by the harness after the process is stopped. */
  closeLog(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    return new Promise((r) => (log === undefined ? r() : log.end(r)));
  }

  private scriptPath(): string {
    return isAbsolute(this.spec.script) ? this.spec.script : join(REPO_ROOT, this.spec.script);
  }

  private openLog(): WriteStream {
    this.log ??= createWriteStream(this.logPath, { flags: "a" });
    this.log.write(`--- ${this.name} start #${this.startCount} ${new Date().toISOString()}\n`);
    return this.log;
  }

  private awaitListening(child: ChildProcess, exit: Promise<ExitInfo>): Promise<ListeningEvent> {
    const log = this.log;
    const timeoutMs = this.spec.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT;
    return new Promise((resolveReady, rejectReady) => {
      const timer = setTimeout(
        () =>
          rejectReady(new Error(`${this.name}: no listening line within ${timeoutMs} ms\n${this.logTail()}`)),
        timeoutMs,
      );
      const lines = createInterface({ input: child.stdout! });
      lines.on("line", (line) => {
        log?.write(`${line}\n`);
        const event = parseListening(line);
        if (event === undefined || this.lastListening !== undefined) return;
        this.lastListening = event;
        clearTimeout(timer);
        resolveReady(event);
      });
      void exit.then(({ code, signal }) => {
        clearTimeout(timer);
        if (this.lastListening !== undefined) return;
        // Give the log stream a moment so the tail includes the child's last words.
        setTimeout(() => {
          const tail = this.logTail();
          rejectReady(
            new Error(`${this.name} exited (code=${code} signal=${signal}) before listening\n${tail}`),
          );
        }, 50);
      });
    });
  }
}

function parseListening(line: string): ListeningEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    const event = value as Partial<ListeningEvent> | null;
    return event !== null && typeof event === "object" && event.event === "listening"
      ? (event as ListeningEvent)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A temp directory plus the processes started in it. `cleanup()` (call it from afterAll,
 * it never throws) stops every running child, then removes the directory unless
 * MINIKV_KEEP_TEST_DIRS=1 is set.
 */
export class ProcessHarness {
  readonly rootDir: string;
  readonly logDir: string;
  private readonly processes: ManagedProcess[] = [];

  private constructor(rootDir: string) {
    this.rootDir = rootDir;
    this.logDir = join(rootDir, "logs");
  }

  /** Creates `<os tmpdir>/<prefix>XXXXXX` with a logs/ folder. */
  static async create(prefix: string): Promise<ProcessHarness> {
    const harness = new ProcessHarness(await mkdtemp(join(tmpdir(), prefix)));
    await mkdir(harness.logDir);
    return harness;
  }

  /** A folder under the harness root (created), e.g. a data dir that survives restarts. */
  async dir(name: string): Promise<string> {
    const path = join(this.rootDir, name);
    await mkdir(path, { recursive: true });
    return path;
  }

  /** Registers a process without starting it. */
  add(spec: ProcessSpec): ManagedProcess {
    if (this.processes.some((p) => p.name === spec.name)) throw new Error(`duplicate process ${spec.name}`);
    const managed = new ManagedProcess(spec, this.logDir);
    this.processes.push(managed);
    return managed;
  }

  /** Registers and starts a process; resolves with it once it reported listening. */
  async start(spec: ProcessSpec): Promise<ManagedProcess> {
    const managed = this.add(spec);
    await managed.start();
    return managed;
  }

  get all(): readonly ManagedProcess[] {
    return this.processes;
  }

  /** Every process's log tail, for a failing test's message. */
  logTails(lines = LOG_TAIL_LINES_DEFAULT): string {
    return this.processes.map((p) => `===== ${p.name} (${p.logPath})\n${p.logTail(lines)}`).join("\n");
  }

  /** Stops what is still running (SIGTERM, then SIGKILL after `stopTimeoutMs`) and removes the temp dir. */
  async cleanup(stopTimeoutMs = 5_000): Promise<void> {
    await Promise.all(
      this.processes.map(async (p) => {
        if (p.running) await p.stop(stopTimeoutMs).catch(() => undefined);
        await p.closeLog();
      }),
    );
    if (process.env["MINIKV_KEEP_TEST_DIRS"] === "1") {
      process.stderr.write(`kept ${this.rootDir}\n`);
      return;
    }
    await rm(this.rootDir, { recursive: true, force: true }).catch(() => {
      rmSync(this.rootDir, { recursive: true, force: true });
    });
  }
}
