import { httpRequest, type HttpAnswer } from "../http-client.js";
import type { BlobRecord, BlobResult, History, Outcome } from "./history.js";
import type { Rng } from "./rng.js";
import { decodeValue, valueBytes } from "./values.js";

/** The clients' side of a nemesis run. */
export interface WorkloadConfig {
  readonly clients: number;
  /** The small key set every client works on (contention makes histories interesting). */
  readonly keys: readonly string[];
  /** The prefix every key starts with; LIST asks for it. */
  readonly listPrefix: string;
  /** A request without an answer after this is given up: "unknown" for a write. */
  readonly requestTimeoutMs: number;
  /** Upper bound on requests per client, besides the run's deadline. */
  readonly requestsPerClientMax: number;
  /** Pause between a client's requests. */
  readonly thinkMs: number;
}

/** Where clients send requests: the coordinators' real URLs, by name. */
export interface Targets {
  readonly coordinators: readonly { readonly name: string; readonly httpUrl: string }[];
}

/** Write errors that are decided before anything is proposed: the write certainly did not happen. */
const DEFINITE_WRITE_FAILURES = new Set(["NOT_ENOUGH_VOLUMES"]);
/** Transport errors that mean the request never reached a server. */
const NOT_SENT = new Set(["ECONNREFUSED"]);

/** One value size: mostly small, some medium, a few large enough to span many stream chunks. */
function valueSize(rng: Rng): number {
  const roll = rng.next();
  if (roll < 0.7) return rng.int(64, 4 * 1024);
  if (roll < 0.95) return rng.int(4 * 1024, 64 * 1024);
  return rng.int(256 * 1024, 1024 * 1024);
}

function errorCode(answer: HttpAnswer): string | undefined {
  try {
    return (JSON.parse(answer.body.toString()) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

interface Attempt {
  readonly answer?: HttpAnswer;
  readonly transportCode?: string;
  readonly detail?: string;
}

async function attempt(url: string, method: string, timeoutMs: number, body?: Buffer): Promise<Attempt> {
  try {
    return { answer: await httpRequest(url, { method, timeoutMs, ...(body === undefined ? {} : { body }) }) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { transportCode: e.code ?? "TIMEOUT", detail: e.message };
  }
}

/** The outcome of a write that got no success answer. */
function writeFailureOutcome(a: Attempt): Outcome {
  if (a.answer === undefined) return NOT_SENT.has(a.transportCode ?? "") ? "fail" : "unknown";
  const code = errorCode(a.answer);
  if (a.answer.status >= 400 && a.answer.status < 500 && a.answer.status !== 499) return "fail";
  return code !== undefined && DEFINITE_WRITE_FAILURES.has(code) ? "fail" : "unknown";
}

function answerFields(a: Attempt): Pick<BlobRecord, "status" | "code" | "detail"> {
  if (a.answer === undefined) {
    return { code: a.transportCode ?? "TIMEOUT", ...(a.detail === undefined ? {} : { detail: a.detail }) };
  }
  const code = errorCode(a.answer);
  const fields: { status: number; code?: string; detail?: string } = { status: a.answer.status };
  if (code !== undefined) fields.code = code;
  if (a.answer.status >= 400) fields.detail = a.answer.body.subarray(0, 300).toString();
  return fields;
}

type Done = Omit<BlobRecord, "clientId" | "coordinator" | "callMs" | "returnMs" | "kind" | "key">;

async function doPut(url: string, valueId: string, sizeBytes: number, timeoutMs: number): Promise<Done> {
  const a = await attempt(url, "PUT", timeoutMs, valueBytes(valueId, sizeBytes));
  const ok = a.answer?.status === 201;
  return {
    valueId,
    outcome: ok ? "ok" : writeFailureOutcome(a),
    ...(ok ? { result: { kind: "put" } } : {}),
    ...answerFields(a),
  };
}

async function doDelete(url: string, timeoutMs: number): Promise<Done> {
  const a = await attempt(url, "DELETE", timeoutMs);
  const status = a.answer?.status;
  if (status === 204 || (status === 404 && errorCode(a.answer!) === "KEY_NOT_FOUND")) {
    return { outcome: "ok", result: { kind: "delete", existed: status === 204 }, ...answerFields(a) };
  }
  return { outcome: writeFailureOutcome(a), ...answerFields(a) };
}

async function doGet(url: string, timeoutMs: number): Promise<Done> {
  const a = await attempt(url, "GET", timeoutMs);
  const status = a.answer?.status;
  if (status === 404 && errorCode(a.answer!) === "KEY_NOT_FOUND") {
    return { outcome: "ok", result: { kind: "get", valueId: null }, ...answerFields(a) };
  }
  if (status !== 200) return { outcome: "fail", ...answerFields(a) };
  const decoded = decodeValue(a.answer!.body);
  // Bytes no PUT wrote: recorded under an id no PUT has, so the checker flags the read too.
  const valueId = decoded.ok ? decoded.id : `corrupt(${decoded.reason})`;
  return {
    outcome: "ok",
    result: { kind: "get", valueId },
    ...answerFields(a),
    ...(decoded.ok ? {} : { detail: decoded.reason }),
  };
}

async function doList(baseUrl: string, prefix: string, timeoutMs: number): Promise<Done> {
  const url = `${baseUrl}/v1/blobs?prefix=${encodeURIComponent(prefix)}&limit=1000`;
  const a = await attempt(url, "GET", timeoutMs);
  if (a.answer?.status !== 200) return { outcome: "fail", ...answerFields(a) };
  const page = JSON.parse(a.answer.body.toString()) as { keys: { key: string }[] };
  const result: BlobResult = { kind: "list", keys: page.keys.map((k) => k.key) };
  return { outcome: "ok", result, ...answerFields(a) };
}

function blobUrl(baseUrl: string, key: string): string {
  return `${baseUrl}/v1/blobs/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** One request chosen by `rng`, sent to a random coordinator and recorded. */
async function oneRequest(
  clientId: number,
  seq: number,
  rng: Rng,
  targets: Targets,
  config: WorkloadConfig,
  history: History,
): Promise<void> {
  const target = rng.pick(targets.coordinators);
  const key = rng.pick(config.keys);
  const roll = rng.next();
  const kind = roll < 0.35 ? "put" : roll < 0.7 ? "get" : roll < 0.85 ? "delete" : "list";
  const timeoutMs = config.requestTimeoutMs;
  const callMs = performance.now();
  let done: Done;
  if (kind === "put")
    done = await doPut(blobUrl(target.httpUrl, key), `c${clientId}-${seq}`, valueSize(rng), timeoutMs);
  else if (kind === "delete") done = await doDelete(blobUrl(target.httpUrl, key), timeoutMs);
  else if (kind === "get") done = await doGet(blobUrl(target.httpUrl, key), timeoutMs);
  else done = await doList(target.httpUrl, config.listPrefix, timeoutMs);
  history.add({
    clientId,
    kind,
    key: kind === "list" ? config.listPrefix : key,
    coordinator: target.name,
    callMs,
    returnMs: performance.now(),
    ...done,
  });
}

/** Runs `config.clients` concurrent clients until `endMs` (performance.now()) or their request bound. */
export async function runClients(
  rng: Rng,
  targets: Targets,
  config: WorkloadConfig,
  history: History,
  endMs: number,
): Promise<void> {
  const clients = Array.from({ length: config.clients }, async (_, clientId) => {
    const clientRng = rng.fork(clientId);
    for (let seq = 0; seq < config.requestsPerClientMax && performance.now() < endMs; seq++) {
      await oneRequest(clientId, seq, clientRng, targets, config, history);
      if (config.thinkMs > 0) await new Promise((r) => setTimeout(r, config.thinkMs));
    }
  });
  await Promise.all(clients);
}

/** Attempts per key of a final read: a coordinator just restarted may need a moment to catch up. */
const FINAL_READ_ATTEMPTS = 4;

/**
 * Reads every key through `target` (after healing), recorded like any client read. A read
 * that fails is tried again, up to FINAL_READ_ATTEMPTS times; each attempt is in the history
 * (a failed read has no effect) and the last one is returned. `retries` counts the repeats.
 */
export async function finalReads(
  target: { readonly name: string; readonly httpUrl: string },
  config: WorkloadConfig,
  history: History,
  clientId: number,
  retries: { count: number } = { count: 0 },
): Promise<BlobRecord[]> {
  const records: BlobRecord[] = [];
  for (const key of config.keys) {
    let record: BlobRecord | undefined;
    for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS && record?.outcome !== "ok"; attempt++) {
      if (attempt > 0) retries.count++;
      const callMs = performance.now();
      const done = await doGet(blobUrl(target.httpUrl, key), config.requestTimeoutMs);
      record = {
        clientId,
        kind: "get",
        key,
        coordinator: target.name,
        callMs,
        returnMs: performance.now(),
        ...done,
      };
      history.add(record);
    }
    records.push(record!);
  }
  return records;
}

/** One PUT for the writability check; true on 201. */
export async function probeWrite(
  baseUrl: string,
  key: string,
  valueId: string,
  timeoutMs: number,
): Promise<boolean> {
  const done = await doPut(blobUrl(baseUrl, key), valueId, 128, timeoutMs);
  return done.outcome === "ok";
}
