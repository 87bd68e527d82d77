/**
 * The table of scripts/benchmark.sh: reads the JSON lines that ../shared/peers' wrk-run.sh
 * (blob and etcd runs) and disk-ceiling.sh write, and prints one markdown table (median,
 * with min–max over runs) followed by the goals of issue 4 §7 as ratios, and minikv's 4 KiB
 * rates against Swift's (3 replicas) where Swift was measured.
 *
 *   node dist/scripts/bench/blob-table.js --replicas 3 results.jsonl disk.jsonl
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** One wrk-run.sh result line (fields this table reads). */
export interface WrkResult {
  readonly label: string;
  readonly ops_per_s: number;
  /** Requests answered without error, and the seconds from the first request to the last answer. */
  readonly ok?: number;
  readonly secs?: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly p999_ms: number;
  readonly size: number;
  readonly err: number;
  readonly complete?: boolean;
  readonly foreign_cpu_pct?: number;
}

/** One disk-ceiling.sh result line. */
export interface DiskResult {
  readonly label: string;
  readonly value: number;
  readonly unit: string;
}

export interface Results {
  readonly runs: ReadonlyMap<string, readonly WrkResult[]>;
  readonly disk: ReadonlyMap<string, readonly DiskResult[]>;
}

/** disk-ceiling.sh labels of the fsynced sequential write (zeros and random bytes). */
export const DISK_SEQUENTIAL_LABELS = [
  "seq write 1GiB dd zeros conv=fdatasync",
  "seq write 1GiB dd random conv=fdatasync",
];
/** Runs during which other processes used more CPU than this are marked in the table. */
const FOREIGN_CPU_PCT_NOTE = 5;
const BYTES_PER_MB = 1e6;

/** Groups the lines of JSONL texts by label, keeping file order. Lines that are not JSON objects are skipped. */
export function parseResults(texts: readonly string[]): Results {
  const runs = new Map<string, WrkResult[]>();
  const disk = new Map<string, DiskResult[]>();
  for (const text of texts) {
    for (const line of text.split("\n")) {
      if (!line.trim().startsWith("{")) continue;
      const record = JSON.parse(line) as Partial<WrkResult & DiskResult>;
      if (typeof record.label !== "string") continue;
      if (typeof record.ops_per_s === "number") push(runs, record.label, record as WrkResult);
      else if (typeof record.value === "number") push(disk, record.label, record as DiskResult);
    }
  }
  return { runs, disk };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function cell(values: readonly number[], digits: number): string {
  const med = median(values).toFixed(digits);
  if (values.length < 2) return med;
  return `${med} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
}

/**
 * A run's operations per second: from its answered requests and seconds when the line has
 * them (wrk-run.sh prints ops_per_s with one decimal, a step of 5–10% at the one or two
 * 64 MiB requests a second of the large case), else its ops_per_s.
 */
export function opsPerSecond(run: WrkResult): number {
  const { ok, secs } = run;
  return ok !== undefined && secs !== undefined && secs > 0 ? ok / secs : run.ops_per_s;
}

function mbPerSecond(run: WrkResult): number {
  return (opsPerSecond(run) * run.size) / BYTES_PER_MB;
}

/** Whole operations per second, except for rates too low to read that way (large blobs). */
function opsDigits(runs: readonly WrkResult[]): number {
  return median(runs.map(opsPerSecond)) < 10 ? 2 : 0;
}

function notes(runs: readonly WrkResult[]): string {
  const out: string[] = [];
  const errors = runs.reduce((sum, r) => sum + r.err, 0);
  if (errors > 0) out.push(`${errors} errors`);
  if (runs.some((r) => r.complete === false)) out.push("incomplete run");
  const foreign = Math.max(...runs.map((r) => r.foreign_cpu_pct ?? 0));
  if (foreign > FOREIGN_CPU_PCT_NOTE) out.push(`other load up to ${foreign.toFixed(0)}% CPU`);
  return out.join("; ");
}

/** The measurement table: one row per label. */
export function measurementTable(results: Results): string[] {
  const rows = [
    "| case | runs | ops/s | p50 ms | p99 ms | p99.9 ms | MB/s | notes |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const [label, runs] of results.runs) {
    const size = runs[0]?.size ?? 0;
    const rate = size >= 4096 ? cell(runs.map(mbPerSecond), 1) : "–";
    const cells = [
      label,
      String(runs.length),
      cell(runs.map(opsPerSecond), opsDigits(runs)),
      cell(
        runs.map((r) => r.p50_ms),
        2,
      ),
      cell(
        runs.map((r) => r.p99_ms),
        1,
      ),
      cell(
        runs.map((r) => r.p999_ms),
        1,
      ),
      rate,
      notes(runs),
    ];
    rows.push(`| ${cells.join(" | ")} |`);
  }
  for (const [label, runs] of results.disk) {
    const unit = runs[0]?.unit ?? "";
    rows.push(
      `| disk: ${label} | ${runs.length} | ${cell(
        runs.map((r) => r.value),
        1,
      )} ${unit} | | | | | |`,
    );
  }
  return rows;
}

/** One goal of issue 4 §7: minikv's figure against a fraction of a reference figure. */
export interface Goal {
  readonly name: string;
  readonly unit: string;
  readonly measured: number | undefined;
  readonly reference: string;
  readonly referenceValue: number | undefined;
  /** Target = fraction × referenceValue. */
  readonly fraction: number;
}

function medianOps(results: Results, label: string): number | undefined {
  const runs = results.runs.get(label);
  return runs === undefined ? undefined : median(runs.map(opsPerSecond));
}

function medianMBps(results: Results, label: string): number | undefined {
  const runs = results.runs.get(label);
  return runs === undefined ? undefined : median(runs.map(mbPerSecond));
}

/**
 * The goals at concurrency 64 (issue 4 §7). The disk figure is the higher of the two fsynced
 * sequential writes disk-ceiling.sh measures, so the goal is the stricter one.
 */
export function goals(results: Results, options: { replicas: number; largeLabel: string }): Goal[] {
  const diskMedians = DISK_SEQUENTIAL_LABELS.flatMap((label) => {
    const runs = results.disk.get(label);
    return runs === undefined ? [] : [median(runs.map((r) => r.value))];
  });
  const disk = diskMedians.length === 0 ? undefined : Math.max(...diskMedians);
  return [
    {
      name: "4 KiB PUT c64 ≥ etcd 256 B put c64",
      unit: "ops/s",
      measured: medianOps(results, "minikv put 4KiB c64"),
      reference: "etcd put 256B c64",
      referenceValue: medianOps(results, "etcd put 256B c64"),
      fraction: 1,
    },
    {
      name: "4 KiB PUT c64 ≥ 25% of nginx PUT c64",
      unit: "ops/s",
      measured: medianOps(results, "minikv put 4KiB c64"),
      reference: "nginx put 4KiB c64",
      referenceValue: medianOps(results, "nginx put 4KiB c64"),
      fraction: 0.25,
    },
    {
      name: "4 KiB GET c64 ≥ 33% of nginx GET c64",
      unit: "ops/s",
      measured: medianOps(results, "minikv get 4KiB c64"),
      reference: "nginx get 4KiB c64",
      referenceValue: medianOps(results, "nginx get 4KiB c64"),
      fraction: 0.33,
    },
    {
      name: `64 MiB PUT ≥ 50% of disk fsynced sequential write / N (N=${options.replicas})`,
      unit: "MB/s",
      measured: medianMBps(results, options.largeLabel),
      reference: "disk fsynced sequential write (dd conv=fdatasync)",
      referenceValue: disk,
      fraction: 0.5 / options.replicas,
    },
  ];
}

export function goalTable(list: readonly Goal[]): string[] {
  const rows = [
    "| goal (issue 4 §7) | minikv | reference | target | minikv / target | met |",
    "|---|---|---|---|---|---|",
  ];
  for (const goal of list) {
    const measured =
      goal.measured === undefined ? "not measured" : `${goal.measured.toFixed(1)} ${goal.unit}`;
    const reference =
      goal.referenceValue === undefined
        ? `${goal.reference}: not measured`
        : `${goal.reference}: ${goal.referenceValue.toFixed(1)}`;
    const target = goal.referenceValue === undefined ? undefined : goal.referenceValue * goal.fraction;
    const ratio = goal.measured === undefined || target === undefined ? undefined : goal.measured / target;
    rows.push(
      `| ${goal.name} | ${measured} | ${reference} | ${target === undefined ? "–" : `${target.toFixed(1)} ${goal.unit}`} | ` +
        `${ratio === undefined ? "–" : ratio.toFixed(2)} | ${ratio === undefined ? "–" : ratio >= 1 ? "yes" : "no"} |`,
    );
  }
  return rows;
}

/** The cases minikv and Swift both run (same size, concurrency and load generator). */
const SWIFT_CASES = ["put 4KiB c16", "get 4KiB c16", "put 4KiB c64", "get 4KiB c64"];

/**
 * minikv's median rate over Swift's for each 4 KiB case both measured; no rows (an empty
 * list) when Swift was not measured. Not a goal of issue 4, a comparison beside one.
 */
export function swiftTable(results: Results): string[] {
  const rows: string[] = [];
  for (const name of SWIFT_CASES) {
    const minikv = medianOps(results, `minikv ${name}`);
    const swift = medianOps(results, `swift ${name}`);
    if (minikv === undefined || swift === undefined) continue;
    rows.push(
      `| ${name} | ${minikv.toFixed(0)} ops/s | ${swift.toFixed(0)} ops/s | ${(minikv / swift).toFixed(1)}× |`,
    );
  }
  if (rows.length === 0) return [];
  return ["| against Swift (3 replicas) | minikv | Swift | minikv / Swift |", "|---|---|---|---|", ...rows];
}

function main(argv: readonly string[]): void {
  let replicas = 3;
  let largeLabel = "minikv put 64MiB c4";
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--replicas") replicas = Number(argv[++i]);
    else if (arg === "--large-label") largeLabel = argv[++i] ?? largeLabel;
    else files.push(arg);
  }
  if (!(Number.isInteger(replicas) && replicas >= 1) || files.length === 0) {
    process.stderr.write("usage: blob-table.js [--replicas N] [--large-label LABEL] FILE.jsonl...\n");
    process.exitCode = 2;
    return;
  }
  const results = parseResults(files.map((file) => readFileSync(file, "utf8")));
  const swift = swiftTable(results);
  const lines = [
    ...measurementTable(results),
    "",
    ...goalTable(goals(results, { replicas, largeLabel })),
    ...(swift.length === 0 ? [] : ["", ...swift]),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2));
}
