import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHostPort } from "../common/config.js";
import { SERVER_ENV, SERVER_NODE_FLAGS } from "../common/node-flags.js";
import { createLogger } from "../common/logger.js";
import { startCoordinator } from "../coordinator/coord-server.js";
import { createCoordProgram, type ServeOptions } from "../coordinator/serve-command.js";
import { createVolumeProgram, type VolumeServeFlags } from "../volume/serve-command.js";
import { startVolumeServer } from "../volume/volume-server.js";

/**
 * The container setup (issue 5 §4). No Docker engine runs here, so this test reads
 * docker-compose.yml and the Dockerfile and holds them to what the code accepts: every
 * service's command and environment go through the real commander programs of
 * minikv-coord and minikv-volume (parsed in-process, nothing is started), and the services
 * must agree with each other (peers, coordinator URLs, ports, health checks, volumes).
 * Each check returns the problems it finds, so the tests also show that it catches a broken file.
 */

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const COORD_SCRIPT = "dist/coordinator/main.js";
const VOLUME_SCRIPT = "dist/volume/main.js";
const RESTART_POLICIES = ["always", "unless-stopped", "on-failure"];
/** Ports the WHATWG fetch spec blocks: a health check using fetch() on one of them never passes. */
const FETCH_BLOCKED_PORTS = [
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
];

interface ComposeService {
  readonly command?: unknown;
  readonly entrypoint?: unknown;
  readonly environment?: Readonly<Record<string, unknown>> | readonly string[];
  readonly ports?: readonly unknown[];
  readonly volumes?: readonly unknown[];
  readonly healthcheck?: { readonly test?: unknown };
  readonly restart?: unknown;
}

interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly volumes?: Readonly<Record<string, unknown>>;
}

/** A service as the real program parsed it. */
type ParsedService =
  | {
      readonly name: string;
      readonly kind: "coordinator";
      readonly service: ComposeService;
      readonly options: ServeOptions;
    }
  | {
      readonly name: string;
      readonly kind: "volume";
      readonly service: ComposeService;
      readonly flags: VolumeServeFlags;
    };

function loadCompose(): ComposeFile {
  // `<<: *minikv` merge keys are YAML 1.1, which compose supports.
  return parse(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as ComposeFile;
}

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      (env as readonly string[]).map((entry) => {
        const eq = entry.indexOf("=");
        return [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

function commandOf(name: string, service: ComposeService): string[] {
  const command = service.command;
  if (!Array.isArray(command) || !command.every((part) => typeof part === "string")) {
    throw new Error(`${name}: command must be an exec-form list, got ${JSON.stringify(command)}`);
  }
  return command;
}

/** Runs `body` with exactly `env` as the MINIKV_* part of process.env (the programs read it). */
async function withMinikvEnv<T>(env: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const saved = Object.entries(process.env).filter(([k]) => k.startsWith("MINIKV_"));
  for (const [k] of saved) Reflect.deleteProperty(process.env, k);
  Object.assign(process.env, env);
  try {
    return await body();
  } finally {
    for (const k of Object.keys(env)) Reflect.deleteProperty(process.env, k);
    for (const [k, v] of saved) process.env[k] = v;
  }
}

/** Environment variables the command does not read: commander would ignore them silently. */
function unknownVariables(env: Record<string, string>, known: readonly (string | undefined)[]): string[] {
  return Object.keys(env).filter((k) => k.startsWith("MINIKV_") && !known.includes(k));
}

/** Parses one service with the program its command names; throws the program's usage error. */
async function parseService(name: string, service: ComposeService): Promise<ParsedService> {
  const [script, ...args] = commandOf(name, service);
  const env = environmentOf(service);
  const errors: string[] = [];
  const output = { writeErr: (s: string) => void errors.push(s), writeOut: () => undefined };
  const argv = ["node", script ?? "", ...args];
  if (script === COORD_SCRIPT) {
    let options: ServeOptions | undefined;
    const program = createCoordProgram((o) => {
      options = o;
      return Promise.resolve();
    }, output);
    await withMinikvEnv(env, () => program.parseAsync(argv)).catch((err: unknown) => {
      throw new Error(`${name}: ${errors.join("").trim() || String(err)}`);
    });
    const known = program.commands.flatMap((c) => c.options.map((o) => o.envVar));
    expect(unknownVariables(env, known), `${name}: variables no flag reads`).toEqual([]);
    if (options === undefined) throw new Error(`${name}: "${args.join(" ")}" does not run serve`);
    return { name, kind: "coordinator", service, options };
  }
  if (script === VOLUME_SCRIPT) {
    let flags: VolumeServeFlags | undefined;
    const program = createVolumeProgram((f) => {
      flags = f;
      return Promise.resolve();
    }).configureOutput(output);
    program.commands.forEach((c) => c.configureOutput(output));
    await withMinikvEnv(env, () => program.parseAsync(argv)).catch((err: unknown) => {
      throw new Error(`${name}: ${errors.join("").trim() || String(err)}`);
    });
    const known = program.commands.flatMap((c) => c.options.map((o) => o.envVar));
    expect(unknownVariables(env, known), `${name}: variables no flag reads`).toEqual([]);
    if (flags === undefined) throw new Error(`${name}: "${args.join(" ")}" does not run serve`);
    return { name, kind: "volume", service, flags };
  }
  throw new Error(
    `${name}: command runs ${script ?? "nothing"}, expected ${COORD_SCRIPT} or ${VOLUME_SCRIPT}`,
  );
}

async function parseAll(compose: ComposeFile): Promise<ParsedService[]> {
  const parsed: ParsedService[] = [];
  for (const [name, service] of Object.entries(compose.services))
    parsed.push(await parseService(name, service));
  return parsed;
}

function coordinators(parsed: readonly ParsedService[]) {
  return parsed.flatMap((p) => (p.kind === "coordinator" ? [p] : []));
}

function volumes(parsed: readonly ParsedService[]) {
  return parsed.flatMap((p) => (p.kind === "volume" ? [p] : []));
}

function httpPort(p: ParsedService): number {
  return p.kind === "coordinator" ? p.options.bind.port : p.flags.bind.port;
}

/** Every --peers entry names another coordinator service at its gRPC port; together they are the group. */
function peerProblems(parsed: readonly ParsedService[]): string[] {
  const coords = coordinators(parsed);
  const byName = new Map(coords.map((c) => [c.name, c]));
  const problems: string[] = [];
  for (const coord of coords) {
    const named = new Set<string>();
    for (const peer of coord.options.peers) {
      const { host, port } = parseHostPort(peer.address);
      const target = byName.get(host);
      if (target === undefined) {
        problems.push(`${coord.name}: peer ${peer.address} is not a coordinator service`);
        continue;
      }
      if (port !== target.options.grpc.port) {
        problems.push(
          `${coord.name}: peer ${peer.address}, but ${host} serves gRPC on ${target.options.grpc.port}`,
        );
      }
      if (peer.id !== undefined && peer.id !== target.options.id) {
        problems.push(
          `${coord.name}: peer ${peer.id}=${peer.address}, but ${host} has --id ${target.options.id}`,
        );
      }
      named.add(host);
    }
    const missing = coords.filter((c) => c.name !== coord.name && !named.has(c.name)).map((c) => c.name);
    if (missing.length > 0) problems.push(`${coord.name}: --peers lacks ${missing.join(", ")}`);
  }
  return problems;
}

/** Every --coordinators URL points at a coordinator service's HTTP port, and all of them are listed. */
function coordinatorUrlProblems(parsed: readonly ParsedService[]): string[] {
  const coords = new Map(coordinators(parsed).map((c) => [c.name, c]));
  const problems: string[] = [];
  for (const volume of volumes(parsed)) {
    const named = new Set<string>();
    for (const raw of volume.flags.coordinators) {
      const url = new URL(raw);
      const target = coords.get(url.hostname);
      const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
      if (target === undefined) problems.push(`${volume.name}: ${raw} is not a coordinator service`);
      else if (port !== target.options.bind.port) {
        problems.push(
          `${volume.name}: ${raw}, but ${url.hostname} serves HTTP on ${target.options.bind.port}`,
        );
      } else named.add(url.hostname);
    }
    const missing = [...coords.keys()].filter((name) => !named.has(name));
    if (missing.length > 0) problems.push(`${volume.name}: --coordinators lacks ${missing.join(", ")}`);
  }
  return problems;
}

/** Ids are unique, others reach each service by its name, and the replica count fits the volumes. */
function identityProblems(parsed: readonly ParsedService[]): string[] {
  const problems: string[] = [];
  const ids = parsed.map((p) => (p.kind === "coordinator" ? p.options.id : p.flags.id));
  for (const id of new Set(ids)) {
    if (ids.filter((x) => x === id).length > 1) problems.push(`id ${id} is used twice`);
  }
  for (const p of parsed) {
    const advertise = p.kind === "coordinator" ? p.options.advertiseHost : p.flags.advertise;
    if (advertise !== p.name) problems.push(`${p.name}: --advertise is ${advertise}, not its service name`);
  }
  for (const coord of coordinators(parsed)) {
    if (coord.options.replicas > volumes(parsed).length) {
      problems.push(
        `${coord.name}: --replicas ${coord.options.replicas} > ${volumes(parsed).length} volumes`,
      );
    }
  }
  return problems;
}

/** Published ports map to the service's HTTP port, and no host port is published twice. */
function portProblems(parsed: readonly ParsedService[]): string[] {
  const problems: string[] = [];
  const hostPorts: string[] = [];
  for (const p of parsed) {
    for (const entry of p.service.ports ?? []) {
      const match = /^(?:([\d.]+):)?(\d+):(\d+)(?:\/tcp)?$/.exec(String(entry));
      if (match === null) {
        problems.push(`${p.name}: port mapping ${String(entry)} is not HOST:CONTAINER`);
        continue;
      }
      if (Number(match[3]) !== httpPort(p)) {
        problems.push(`${p.name}: publishes container port ${match[3]}, but serves HTTP on ${httpPort(p)}`);
      }
      const hostPort = `${match[1] ?? "0.0.0.0"}:${match[2] ?? ""}`;
      if (hostPorts.includes(hostPort)) problems.push(`${p.name}: host port ${hostPort} is published twice`);
      hostPorts.push(hostPort);
    }
  }
  return problems;
}

/** Every data directory lies on the service's own named volume; every service has a restart policy. */
function storageProblems(compose: ComposeFile, parsed: readonly ParsedService[]): string[] {
  const declared = Object.keys(compose.volumes ?? {});
  const problems: string[] = [];
  const owners = new Map<string, string>();
  for (const p of parsed) {
    if (!RESTART_POLICIES.includes(String(p.service.restart))) {
      problems.push(`${p.name}: restart policy ${String(p.service.restart)}`);
    }
    const mounts = (p.service.volumes ?? []).map((v) => String(v).split(":"));
    for (const [source] of mounts) {
      if (source === undefined || !declared.includes(source)) {
        problems.push(`${p.name}: mount ${source ?? "?"} is not a named volume`);
      } else if (owners.has(source)) {
        problems.push(`${p.name}: shares volume ${source} with ${owners.get(source) ?? "?"}`);
      } else owners.set(source, p.name);
    }
    const dirs =
      p.kind === "coordinator"
        ? [p.options.dbDir]
        : [p.flags.data, p.flags.wal ?? posix.join(p.flags.data, "wal")];
    for (const dir of dirs) {
      const onVolume = mounts.some(
        ([source, target]) =>
          source !== undefined && declared.includes(source) && target !== undefined && isWithin(dir, target),
      );
      if (!onVolume) problems.push(`${p.name}: ${dir} is not on a named volume`);
    }
  }
  return problems;
}

function isWithin(dir: string, mount: string): boolean {
  const relative = posix.relative(mount, posix.resolve("/", dir));
  return posix.isAbsolute(dir) && !relative.startsWith("..") && !posix.isAbsolute(relative);
}

/** The health check's URL: loopback, the service's HTTP port, `/health` (DESIGN.md §4). */
function healthProblems(parsed: readonly ParsedService[]): string[] {
  const problems: string[] = [];
  for (const p of parsed) {
    const test = p.service.healthcheck?.test;
    const text = Array.isArray(test) ? test.map(String).join(" ") : String(test);
    const url = /https?:\/\/[^\s'"`)]+/.exec(text)?.[0];
    if (url === undefined) {
      problems.push(`${p.name}: health check requests no URL`);
      continue;
    }
    const parsedUrl = new URL(url);
    const port = Number(parsedUrl.port || 80);
    if (!["127.0.0.1", "localhost"].includes(parsedUrl.hostname))
      problems.push(`${p.name}: health check leaves the container`);
    if (port !== httpPort(p))
      problems.push(`${p.name}: health check on port ${port}, HTTP is on ${httpPort(p)}`);
    if (parsedUrl.pathname !== "/health") problems.push(`${p.name}: health check on ${parsedUrl.pathname}`);
    if (/\bfetch\s*\(/.test(text) && FETCH_BLOCKED_PORTS.includes(port)) {
      problems.push(`${p.name}: health check uses fetch(), which refuses port ${port}`);
    }
  }
  return problems;
}

/** The Dockerfile: multi-stage, a node 20 slim runtime, non-root, and what the services run is in it. */
function dockerfileProblems(text: string): string[] {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const stageStarts = lines.flatMap((l, i) => (/^FROM\s/i.test(l) ? [i] : []));
  const problems: string[] = [];
  if (stageStarts.length < 2) problems.push("not multi-stage (one FROM)");
  const final = lines.slice(stageStarts[stageStarts.length - 1] ?? 0);
  const base = /^FROM\s+(\S+)/i.exec(final[0] ?? "")?.[1] ?? "";
  if (!/^node:20[.\w-]*-slim$/.test(base)) problems.push(`runtime base ${base} is not node:20-slim`);
  const buildStages = lines
    .filter((l, i) => i < (stageStarts[stageStarts.length - 1] ?? 0) && /^FROM\s/i.test(l))
    .map((l) => /\sAS\s+(\S+)/i.exec(l)?.[1]);
  const copiesFromBuild = final.some((l) => {
    const from = /^COPY\s+--from=(\S+)/i.exec(l)?.[1];
    return from !== undefined && buildStages.includes(from);
  });
  if (!copiesFromBuild) problems.push("the runtime stage copies nothing from a build stage");
  const user = final.filter((l) => /^USER\s/i.test(l)).pop();
  const userName = user?.split(/\s+/)[1]?.split(":")[0];
  if (userName === undefined || userName === "root" || userName === "0")
    problems.push(`runs as ${userName ?? "root"}`);
  if (!final.some((l) => /^COPY\s.*\s(\.\/)?dist\/?$/i.test(l))) problems.push("runtime stage has no dist/");
  if (!final.some((l) => /^COPY\s.*\s(\.\/)?proto\/?$/i.test(l)))
    problems.push("runtime stage has no proto/ (loadProto)");
  if (!final.some((l) => /^ENTRYPOINT\s+\[\s*"node"\s*[,\]]/i.test(l)))
    problems.push('ENTRYPOINT does not run "node"');
  if (!final.some((l) => /^RUN\s.*chown\s+node(:node)?\s+\/data/.test(l)))
    problems.push("/data is not owned by the runtime user");
  return problems;
}

/** The build stage copies every directory tsconfig.build.json compiles. */
function buildInputProblems(dockerfile: string): string[] {
  const tsconfig = JSON.parse(readFileSync(join(REPO_ROOT, "tsconfig.build.json"), "utf8")) as {
    include: string[];
  };
  const copied = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+$/gim)].flatMap((m) =>
    (m[1] ?? "").split(/\s+/),
  );
  return tsconfig.include
    .map((entry) => entry.split("/")[0] ?? entry)
    .filter((dir) => !copied.includes(dir))
    .map((dir) => `build stage does not copy ${dir}/ (tsconfig.build.json compiles it)`);
}

describe("docker-compose.yml and Dockerfile (issue 5 §4)", () => {
  const compose = loadCompose();
  const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
  let parsed: ParsedService[];

  beforeAll(async () => {
    parsed = await parseAll(compose);
  });

  it("runs 3 coordinators and 3 volumes whose commands and environment the real programs accept", () => {
    expect(coordinators(parsed).map((c) => c.options.id)).toEqual(["coord-1", "coord-2", "coord-3"]);
    expect(volumes(parsed).map((v) => v.flags.id)).toEqual(["vol-1", "vol-2", "vol-3"]);
    // Every setting comes from the environment: the command only names the program and `serve`.
    for (const name of Object.keys(compose.services)) {
      expect(commandOf(name, compose.services[name] ?? {}).slice(1)).toEqual(["serve"]);
    }
  });

  it("runs the servers with the V8 flags every launcher uses (common/node-flags.ts)", () => {
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1];
    const imageEntrypoint = JSON.parse(entrypoint ?? "null") as unknown;
    expect(imageEntrypoint).toEqual(["node", ...SERVER_NODE_FLAGS.coordinator]);
    // Each service runs its role's flags: the image's for coordinators, its own for volumes.
    for (const service of parsed) {
      const own = service.service.entrypoint ?? imageEntrypoint;
      expect(own, service.name).toEqual(["node", ...SERVER_NODE_FLAGS[service.kind]]);
    }
    const clusterUp = readFileSync(join(REPO_ROOT, "scripts", "cluster-up.sh"), "utf8");
    for (const [role, variable] of [
      ["coordinator", "COORDINATOR_NODE_ARGS"],
      ["volume", "VOLUME_NODE_ARGS"],
    ] as const) {
      const line = new RegExp(`^read -ra ${variable} <<<"(.*) \\$\\{MINIKV_NODE_ARGS:-\\}"$`, "m");
      expect(line.exec(clusterUp)?.[1]?.split(" ")).toEqual([...SERVER_NODE_FLAGS[role]]);
    }
    expect(clusterUp).toMatch(/start "coord-\$i" node "\$\{COORDINATOR_NODE_ARGS\[@\]\}"/);
    expect(clusterUp).toMatch(/start "vol-\$i" node "\$\{VOLUME_NODE_ARGS\[@\]\}"/);
    for (const [name, value] of Object.entries(SERVER_ENV)) {
      expect(dockerfile).toMatch(new RegExp(`^ENV ${name}=${value}$`, "m"));
      expect(clusterUp).toMatch(new RegExp(`^export ${name}=${value}$`, "m"));
    }
  });

  it("refuses a service whose environment the program rejects (the parse is real)", async () => {
    const coord = compose.services["coord-1"] ?? {};
    const badBind = { ...coord, environment: { ...environmentOf(coord), MINIKV_BIND: "0.0.0.0:http" } };
    await expect(parseService("coord-1", badBind)).rejects.toThrow(/--bind/);
    const vol = compose.services["vol-1"] ?? {};
    const badUrls = { ...vol, environment: { ...environmentOf(vol), MINIKV_COORDINATORS: "coord-1:5000" } };
    await expect(parseService("vol-1", badUrls)).rejects.toThrow(/coordinators/);
  });

  it("has peer lists naming every other coordinator at its gRPC port", async () => {
    expect(peerProblems(parsed)).toEqual([]);
    const coord = compose.services["coord-2"] ?? {};
    const env = environmentOf(coord);
    const broken = await parseService("coord-2", {
      ...coord,
      environment: { ...env, MINIKV_PEERS: "coord-1=coord-1:5000,coord-9=coord-9:5001" },
    });
    expect(peerProblems(parsed.map((p) => (p.name === "coord-2" ? broken : p)))).toEqual([
      "coord-2: peer coord-1:5000, but coord-1 serves gRPC on 5001",
      "coord-2: peer coord-9:5001 is not a coordinator service",
      "coord-2: --peers lacks coord-3",
    ]);
  });

  it("points every volume's --coordinators at the coordinators' HTTP ports", async () => {
    expect(coordinatorUrlProblems(parsed)).toEqual([]);
    const vol = compose.services["vol-3"] ?? {};
    const broken = await parseService("vol-3", {
      ...vol,
      environment: { ...environmentOf(vol), MINIKV_COORDINATORS: "http://coord-1:5001,http://coord-2:5000" },
    });
    expect(coordinatorUrlProblems(parsed.map((p) => (p.name === "vol-3" ? broken : p)))).toEqual([
      "vol-3: http://coord-1:5001, but coord-1 serves HTTP on 5000",
      "vol-3: --coordinators lacks coord-1, coord-3",
    ]);
  });

  it("gives each service a unique id, its own name as --advertise, and enough volumes for --replicas", () => {
    expect(identityProblems(parsed)).toEqual([]);
  });

  it("publishes each HTTP port once", () => {
    expect(portProblems(parsed)).toEqual([]);
  });

  it("keeps every data directory on the service's own named volume, with a restart policy", () => {
    expect(storageProblems(compose, parsed)).toEqual([]);
    const shared = parsed.map((p) =>
      p.name === "vol-2"
        ? { ...p, service: { ...p.service, volumes: ["vol-1-data:/data"], restart: "no" } }
        : p,
    );
    expect(storageProblems(compose, shared)).toEqual([
      "vol-2: restart policy no",
      "vol-2: shares volume vol-1-data with vol-1",
    ]);
  });

  it("health-checks /health on each service's HTTP port, without fetch() on a port fetch refuses", () => {
    expect(healthProblems(parsed)).toEqual([]);
    const fetching = parsed.map((p) =>
      p.name === "vol-1"
        ? {
            ...p,
            service: {
              ...p.service,
              healthcheck: {
                test: ["CMD", "node", "-e", "fetch('http://127.0.0.1:6000/health').then(() => 0)"],
              },
            },
          }
        : p,
    );
    expect(healthProblems(fetching)).toEqual(["vol-1: health check uses fetch(), which refuses port 6000"]);
  });

  it("builds multi-stage onto node:20-slim, runs as a non-root user, and ships dist/ and proto/", () => {
    expect(dockerfileProblems(dockerfile)).toEqual([]);
    expect(buildInputProblems(dockerfile)).toEqual([]);
    expect(dockerfileProblems("FROM node:20\nCOPY . .\n")).toEqual(
      expect.arrayContaining(["not multi-stage (one FROM)", "runs as root"]),
    );
  });
});

/** Runs a `["CMD", "node", ...]` health check with its URL's port moved to `port`; resolves with its exit status. */
function runHealthCheck(test: readonly string[], port: number): Promise<number> {
  const [form, program, ...args] = test;
  expect([form, program]).toEqual(["CMD", "node"]);
  const moved = args.map((a) => a.replace(/(https?:\/\/(?:127\.0\.0\.1|localhost)):\d+/g, `$1:${port}`));
  return new Promise((resolve) => {
    execFile(process.execPath, moved, { timeout: 10_000 }, (err) => {
      resolve(err === null ? 0 : typeof err.code === "number" ? err.code : -1);
    });
  });
}

function healthTest(service: ComposeService | undefined): string[] {
  const test = service?.healthcheck?.test;
  return Array.isArray(test) ? test.map(String) : [];
}

describe("the health check commands (issue 5 §4), run against a loopback server", () => {
  let status = 200;
  let paths: string[] = [];
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? "");
      res.writeHead(req.url === "/health" ? status : 404).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const runCheck = (test: readonly string[]): Promise<number> => runHealthCheck(test, port);

  it("passes on 200 from /health and fails on 503 and on a refused connection", async () => {
    const tests = new Map<string, readonly string[]>();
    for (const service of Object.values(loadCompose().services)) {
      const test = service.healthcheck?.test;
      if (Array.isArray(test)) tests.set(JSON.stringify(test), test.map(String));
    }
    expect(tests.size).toBeGreaterThan(0);
    for (const test of tests.values()) {
      status = 200;
      paths = [];
      expect(await runCheck(test)).toBe(0);
      expect(paths).toEqual(["/health"]);
      status = 503;
      expect(await runCheck(test)).not.toBe(0);
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const test of tests.values()) expect(await runCheck(test)).not.toBe(0);
  });
});

describe("the health checks against the real servers, built from the services' parsed settings", () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "minikv-compose-health-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("passes against a coordinator and a volume serving on loopback, and fails once they stop", async () => {
    const compose = loadCompose();
    const coord = await parseService("coord-1", compose.services["coord-1"] ?? {});
    const volume = await parseService("vol-1", compose.services["vol-1"] ?? {});
    if (coord.kind !== "coordinator" || volume.kind !== "volume") throw new Error("unexpected service kinds");
    const loopback = { host: "127.0.0.1", port: 0 };
    // The service's own settings, except: loopback port 0, temp dirs, and no other members.
    const coordinator = await startCoordinator(
      {
        ...coord.options,
        bind: loopback,
        grpc: loopback,
        advertiseHost: undefined,
        dbDir: join(root, "coord"),
        peers: [],
      },
      createLogger("compose-test"),
    );
    const volumeServer = await startVolumeServer({
      id: volume.flags.id,
      http: loopback,
      grpc: loopback,
      coordinatorUrls: [],
      storage: {
        dataDir: join(root, "vol", "data"),
        walDir: join(root, "vol", "wal"),
        segmentBytesMax: volume.flags.segmentSize,
        snapshotIntervalMs: volume.flags.snapshotInterval,
        compactionGarbageRatio: volume.flags.compactionThreshold,
      },
    });
    const coordPort = parseHostPort(coordinator.httpAddress).port;
    const volumePort = parseHostPort(volumeServer.httpAddress).port;
    try {
      expect(await runHealthCheck(healthTest(coord.service), coordPort)).toBe(0);
      expect(await runHealthCheck(healthTest(volume.service), volumePort)).toBe(0);
    } finally {
      await coordinator.close();
      await volumeServer.close();
    }
    expect(await runHealthCheck(healthTest(coord.service), coordPort)).not.toBe(0);
    expect(await runHealthCheck(healthTest(volume.service), volumePort)).not.toBe(0);
  });
});
