import express, { type NextFunction, type Request, type Response } from "express";
import { waitForDrain } from "../common/backpressure.js";
import { parseByteRange } from "../common/byte-range.js";
import { ErrorCode, MinikvError, errorBody, toMinikvError } from "../common/errors.js";
import { validateKey } from "../common/keys.js";
import type { Logger } from "../common/logger.js";
import type { StoredValueInfo, VolumeStore } from "./store-api.js";
import type { VolumeServerMetrics } from "./server-metrics.js";
import type { InflightTracker } from "./inflight.js";

/** What the HTTP read endpoint needs; it owns none of it. */
export interface HttpAppDeps {
  readonly store: VolumeStore;
  readonly volumeId: string;
  readonly metrics: VolumeServerMetrics;
  readonly logger: Logger;
  /** "serving", or "closing" once shutdown began (health then answers 503). */
  readonly state: () => string;
  readonly inflight: InflightTracker;
}

const BLOB_PREFIX = "/blobs/";
const READ_METHODS = "GET, HEAD";

/**
 * The volume's HTTP endpoint, built without listening: `GET/HEAD /blobs/<key>` (streamed,
 * with Range), `/health`, `/metrics`. Errors are `{"error":{"code","message"}}` with the
 * status of ERROR_TABLE. A failure after the headers went out destroys the connection, so a
 * client never takes a short or corrupt body for a whole one.
 */
export function createApp(deps: HttpAppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("case sensitive routing", true);
  app.set("strict routing", true);
  app.use(countRequests(deps.metrics));
  app.use((req, res, next) => {
    if (!req.path.startsWith(BLOB_PREFIX)) {
      next();
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") throw methodNotAllowed(res, req.method);
    return deps.inflight.track(serveBlob(deps, req, res));
  });
  app.get("/health", (_req, res) => {
    const serving = deps.state() === "serving";
    const stats = deps.store.stats();
    res.status(serving ? 200 : 503).json({
      id: deps.volumeId,
      state: deps.state(),
      keys: stats.keys,
      preparedCount: stats.preparedCount,
      usedBytes: stats.usedBytes,
      capacityBytes: stats.capacityBytes,
    });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.all(["/health", "/metrics"], (req, res) => {
    throw methodNotAllowed(res, req.method);
  });
  app.use((req) => {
    throw new MinikvError(ErrorCode.NOT_FOUND, `no route for ${req.method} ${req.path}`);
  });
  app.use(answerError(deps));
  return app;
}

function methodNotAllowed(res: Response, method: string): MinikvError {
  res.setHeader("Allow", READ_METHODS);
  return new MinikvError(ErrorCode.METHOD_NOT_ALLOWED, `${method} is not allowed here; use GET or HEAD`);
}

/** The key is the raw path after /blobs/, percent-decoded once (DESIGN.md §4). */
function blobKeyOf(path: string): string {
  let key: string;
  try {
    key = decodeURIComponent(path.slice(BLOB_PREFIX.length));
  } catch (cause) {
    throw new MinikvError(ErrorCode.INVALID_KEY, "the key is not valid percent-encoded UTF-8", { cause });
  }
  return validateKey(key);
}

function etagOf(info: StoredValueInfo): string {
  return `"${info.crc32c.toString(16).padStart(8, "0")}"`;
}

async function serveBlob(deps: HttpAppDeps, req: Request, res: Response): Promise<void> {
  const key = blobKeyOf(req.path);
  const info = deps.store.stat(key);
  if (info === undefined) throw new MinikvError(ErrorCode.KEY_NOT_FOUND, "key not found on this volume");
  const etag = etagOf(info);
  res.setHeader("ETag", etag);
  res.setHeader("Last-Modified", new Date(info.createdAtMs).toUTCString());
  res.setHeader("Content-Type", info.contentType === "" ? "application/octet-stream" : info.contentType);
  res.setHeader("Accept-Ranges", "bytes");
  res.setHeader("X-Minikv-Version", String(info.version));
  if (req.headers["if-none-match"]?.split(",").some((tag) => tag.trim() === etag) === true) {
    res.status(304).end();
    return;
  }
  const range = parseByteRange(req.headers.range, info.size);
  if (range.kind === "unsatisfiable") {
    res.setHeader("Content-Range", `bytes */${info.size}`);
    throw new MinikvError(ErrorCode.RANGE_NOT_SATISFIABLE, `the value is ${info.size} bytes`);
  }
  const start = range.kind === "partial" ? range.start : 0;
  const length = range.kind === "partial" ? range.end - range.start + 1 : info.size;
  if (range.kind === "partial") res.setHeader("Content-Range", `bytes ${start}-${range.end}/${info.size}`);
  res.setHeader("Content-Length", String(length));
  res.status(range.kind === "partial" ? 206 : 200);
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  await streamValue(deps, res, deps.store.read(key, { offset: start, length, version: info.version }));
}

/**
 * Streams the value with backpressure. The first chunk is pulled before any byte is sent so
 * that an early failure (corrupt record, value replaced meanwhile) still gets a JSON error;
 * a later failure destroys the connection.
 */
async function streamValue(deps: HttpAppDeps, res: Response, value: AsyncIterable<Buffer>): Promise<void> {
  const chunks = value[Symbol.asyncIterator]();
  try {
    let next = await chunks.next();
    for (; next.done !== true; next = await chunks.next()) {
      deps.metrics.httpBytesSent.inc(next.value.length);
      if (!res.write(next.value)) await waitForDrain(res);
      if (res.destroyed) return;
    }
    res.end();
  } catch (err) {
    if (!res.headersSent) throw err;
    reportFailure(deps, err);
    res.destroy(toMinikvError(err));
  } finally {
    await chunks.return?.();
  }
}

/** Corrupt records are logged and counted by the engine (segment, offset); the rest is ours. */
function reportFailure(deps: HttpAppDeps, err: unknown): void {
  const e = toMinikvError(err);
  if (e.code === ErrorCode.INTERNAL) deps.logger.error({ err: e }, "HTTP request failed");
}

function answerError(deps: HttpAppDeps) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    reportFailure(deps, err);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e = toMinikvError(err, httpErrorCode(err));
    if (e.code !== ErrorCode.RANGE_NOT_SATISFIABLE) res.removeHeader("Content-Range");
    for (const name of ["ETag", "Last-Modified", "Accept-Ranges", "X-Minikv-Version", "Content-Length"]) {
      res.removeHeader(name);
    }
    res.status(e.httpStatus).json(errorBody(e));
  };
}

/** Errors raised by express itself (bad URL encoding, ...) carry a 4xx `status`. */
function httpErrorCode(err: unknown): ErrorCode {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 400 && status < 500
    ? ErrorCode.INVALID_ARGUMENT
    : ErrorCode.INTERNAL;
}

function routeOf(path: string): string {
  if (path.startsWith(BLOB_PREFIX)) return "blobs";
  if (path === "/health" || path === "/metrics") return path.slice(1);
  return "other";
}

function countRequests(metrics: VolumeServerMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.on("close", () => {
      const status = res.writableFinished ? String(res.statusCode) : "aborted";
      metrics.httpRequests.inc({ method: req.method, route: routeOf(req.path), status });
    });
    next();
  };
}
