import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Router } from "express";
import { ErrorCode, MinikvError, errorBody, toMinikvError } from "../common/errors.js";
import { SHARD_COUNT } from "../common/hashing.js";
import { validateKey } from "../common/keys.js";
import { limits } from "../common/limits.js";
import type { Logger } from "../common/logger.js";
import type { CoordinatorMetrics } from "./coord-metrics.js";
import type { ClusterView, CoordinatorNode } from "./coord-node.js";

/**
 * What `GET /v1/cluster` shows besides the Raft group: volumes, shards and the replication
 * summary. The volume registry fills these in; until it exists they are empty.
 */
export interface ClusterExtras {
  volumes(): Promise<readonly unknown[]>;
  shards(): Promise<Readonly<Record<string, unknown>>>;
  replication(): Promise<Readonly<Record<string, unknown>>>;
}

/** Everything the coordinator's HTTP API needs. createApp() builds the app; it never listens. */
export interface AppDeps {
  readonly node: CoordinatorNode;
  readonly metrics: CoordinatorMetrics;
  readonly logger: Logger;
  /** `--replicas`: copies of each blob. */
  readonly replicas: number;
  readonly extras?: ClusterExtras;
  /** Further APIs (blobs, admin jobs), mounted after the built-in routes and before the 404. */
  readonly routers?: readonly Router[];
  /** Requests answered without express (see createHandler), tried in order before it. */
  readonly fastRoutes?: readonly FastRoute[];
}

/**
 * A route answered with node:http directly. `match` names the route pattern (the metrics
 * label) when the request is one of its own, else null; `handle` answers it, and whatever
 * it throws is answered as the express app's error handler would.
 */
export interface FastRoute {
  match(method: string, path: string): string | null;
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void>;
}

/** Header (or `key` query parameter) naming the key of `POST /v1/internal/raft/propose`. */
export const KEY_HEADER = "x-minikv-key";
/** Header carrying the Raft index of an internal read or write. */
export const INDEX_HEADER = "x-minikv-raft-index";
/** Header naming the leader on NOT_LEADER answers. */
export const LEADER_HEADER = "x-minikv-leader";

const PROPOSE_PATH = "/v1/internal/raft/propose";

/**
 * The request listener to serve: the express app, except for the fast routes, answered
 * without it — `POST /v1/internal/raft/propose` and those of `deps.fastRoutes` (the blob
 * API's GET, HEAD and PUT of one key). They carry nearly all the load, and express's
 * per-request work (its request and response prototypes, the router walk past every other
 * route) cost about as much CPU as a Raft round. They answer exactly as express would: same
 * limits, codes, headers and metrics.
 */
export function createHandler(deps: AppDeps): RequestListener {
  const app = createApp(deps);
  const routes: FastRoute[] = [proposeRoute(deps), ...(deps.fastRoutes ?? [])];
  return (req, res) => {
    const url = req.url ?? "";
    const mark = url.indexOf("?");
    const path = mark === -1 ? url : url.slice(0, mark);
    const method = req.method ?? "";
    for (const route of routes) {
      const label = route.match(method, path);
      if (label === null) continue;
      const startNs = process.hrtime.bigint();
      res.once("finish", () => {
        const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
        deps.metrics.observeHttp(method, label, res.statusCode, seconds);
      });
      route
        .handle(req, res, path, mark === -1 ? "" : url.slice(mark + 1))
        .catch((err: unknown) => writeError(deps.logger, req, res, err));
      return;
    }
    void app(req, res);
  };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return "";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

function proposeRoute(deps: AppDeps): FastRoute {
  return {
    match: (method, path) => (method === "POST" && path === PROPOSE_PATH ? PROPOSE_PATH : null),
    handle: (req, res, _path, query) => propose(deps, req, res, query),
  };
}

async function propose(
  deps: AppDeps,
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
): Promise<void> {
  const value = await readBody(req, limits.raftEntryBytesMax);
  const header = req.headers[KEY_HEADER];
  const key = validateKey(typeof header === "string" ? decodeHeaderKey(header) : queryKey(query));
  const { index } = await deps.node.put(key, value);
  const body = JSON.stringify({ index });
  res.writeHead(200, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    [INDEX_HEADER]: String(index),
  });
  res.end(body);
}

/** The `key` query parameter, as express's simple query parser reads it. */
function queryKey(query: string): string {
  const key = parseQuery(query)["key"];
  if (typeof key === "string") return key;
  throw new MinikvError(
    ErrorCode.INVALID_KEY,
    `give the key in the ${KEY_HEADER} header or the key query parameter`,
  );
}

/**
 * A request body of at most `limit` bytes. Past the limit the rest is read and dropped, so
 * the error can still be answered on the connection.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): MinikvError =>
      new MinikvError(ErrorCode.TOO_LARGE, `request body exceeds ${limit} bytes`);
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (err: MinikvError): void => {
      if (failed) return;
      failed = true;
      chunks.length = 0;
      reject(err);
    };
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) fail(tooLarge());
      else chunks.push(chunk);
    });
    req.once("end", () => {
      if (!failed) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.once("close", () => {
      if (!req.complete) fail(new MinikvError(ErrorCode.CLIENT_ABORTED, "request aborted"));
    });
  });
}

/** The coordinator's HTTP API (DESIGN.md §4) as an express 5 app. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", "simple");
  app.use(observeRequests(deps.metrics));
  app.use(statusRoutes(deps));
  app.use(internalRaftRoutes(deps.node));
  for (const router of deps.routers ?? []) app.use(router);
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}

function statusRoutes(deps: AppDeps): Router {
  const router = express.Router();
  router
    .route("/health")
    .get((_req, res) => {
      const status = deps.node.status();
      res.json({
        status: "ok",
        id: status.id,
        role: status.role,
        term: status.term,
        leader: status.leader,
        grpcAddress: deps.node.grpcAddress,
      });
    })
    .all(methodNotAllowed);
  router
    .route("/v1/cluster")
    .get(async (_req, res) => {
      res.json(await clusterBody(deps, await deps.node.cluster()));
    })
    .all(methodNotAllowed);
  router
    .route("/metrics")
    .get(async (_req, res) => {
      const text = await deps.metrics.registry.metrics();
      res.type(deps.metrics.registry.contentType).send(text);
    })
    .all(methodNotAllowed);
  return router;
}

async function clusterBody(deps: AppDeps, view: ClusterView): Promise<Record<string, unknown>> {
  const { id, role, term, commitIndex, appliedIndex } = view.self;
  const extras = deps.extras;
  return {
    self: { id, role, term, commitIndex, appliedIndex },
    leader: view.self.leader,
    coordinators: view.members.map((m) => ({
      id: m.id,
      role: m.role,
      term: m.term,
      commitIndex: m.commitIndex,
      appliedIndex: m.appliedIndex,
      address: m.address,
      httpUrl: m.httpUrl,
      reachable: m.reachable,
    })),
    volumes: extras === undefined ? [] : await extras.volumes(),
    shards: extras === undefined ? { count: SHARD_COUNT } : await extras.shards(),
    replication: {
      replicas: deps.replicas,
      raft: view.replication,
      ...(extras === undefined ? {} : await extras.replication()),
    },
  };
}

/**
 * Internal endpoints that put entries through Raft before the blob API exists (tests and
 * `npm run bench:raft`). Documented in docs/coordinator.md; not part of the public API.
 */
function internalRaftRoutes(node: CoordinatorNode): Router {
  const router = express.Router();
  const rawBody = express.raw({ type: () => true, limit: limits.raftEntryBytesMax });
  router
    .route("/v1/internal/raft/propose")
    .post(rawBody, async (req, res) => {
      const key = validateKey(keyOf(req));
      const value: unknown = req.body;
      const { index } = await node.put(key, Buffer.isBuffer(value) ? value : Buffer.alloc(0));
      res.setHeader(INDEX_HEADER, String(index)).json({ index });
    })
    .all(methodNotAllowed);
  router
    .route("/v1/internal/raft/read")
    .get(async (req, res) => {
      const key = validateKey(keyOf(req));
      const { index, value } = await node.read(key);
      res.setHeader(INDEX_HEADER, String(index));
      if (value === undefined) throw new MinikvError(ErrorCode.KEY_NOT_FOUND, `no value for key "${key}"`);
      res
        .type("application/octet-stream")
        .send(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    })
    .all(methodNotAllowed);
  return router;
}

function keyOf(req: Request): string {
  const header = req.get(KEY_HEADER);
  if (header !== undefined) return decodeHeaderKey(header);
  const query: unknown = (req.query as Record<string, unknown>)["key"];
  if (typeof query === "string") return query;
  throw new MinikvError(
    ErrorCode.INVALID_KEY,
    `give the key in the ${KEY_HEADER} header or the key query parameter`,
  );
}

/** Header values are latin1 on the wire: the key travels percent-encoded. */
function decodeHeaderKey(header: string): string {
  try {
    return decodeURIComponent(header);
  } catch (cause) {
    throw new MinikvError(ErrorCode.INVALID_KEY, `${KEY_HEADER} is not valid percent-encoded UTF-8`, {
      cause,
    });
  }
}

const methodNotAllowed: RequestHandler = (req) => {
  throw new MinikvError(ErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${req.path}`);
};

const notFound: RequestHandler = (req) => {
  throw new MinikvError(ErrorCode.NOT_FOUND, `no route for ${req.method} ${req.path}`);
};

/** Records every answer under its route pattern (never the raw path: keys would explode the label set). */
function observeRequests(metrics: CoordinatorMetrics): RequestHandler {
  return (req, res, next) => {
    const startNs = process.hrtime.bigint();
    res.once("finish", () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const label = typeof route === "string" ? `${req.baseUrl}${route}` : "unmatched";
      const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
      metrics.observeHttp(req.method, label, res.statusCode, seconds);
    });
    next();
  };
}

/** body-parser's error types → stable codes. */
const BODY_ERRORS: Readonly<Record<string, ErrorCode>> = {
  "entity.too.large": ErrorCode.TOO_LARGE,
  "request.aborted": ErrorCode.CLIENT_ABORTED,
  "request.size.invalid": ErrorCode.SIZE_MISMATCH,
};

/** Maps anything thrown to a JSON error with its stable code; never lets an error escape. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => writeError(logger, req, res, err);
}

/** Answers `err` as a JSON error with its stable code (or cuts a response already started). */
export function writeError(logger: Logger, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const e = fromHttpError(err);
  if (e.code === ErrorCode.INTERNAL)
    logger.error({ err, method: req.method, path: pathOf(req.url) }, "request failed");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const leader = e.detail?.["leader"];
  if (leader !== undefined) res.setHeader(LEADER_HEADER, leader);
  const body = errorBody(e);
  const text = JSON.stringify(e.detail === undefined ? body : { error: { ...body.error, ...e.detail } });
  res.statusCode = e.httpStatus;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

function fromHttpError(err: unknown): MinikvError {
  if (err instanceof MinikvError) return err;
  const parserType = (err as { type?: unknown } | null)?.type;
  const code = typeof parserType === "string" ? BODY_ERRORS[parserType] : undefined;
  if (code !== undefined) return new MinikvError(code, (err as Error).message, { cause: err });
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return toMinikvError(err, ErrorCode.INVALID_ARGUMENT);
  }
  return toMinikvError(err);
}
