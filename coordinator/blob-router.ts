/**
 * `/v1/blobs` (DESIGN.md §4): PUT (raw body), POST (multipart, field `file`), GET, HEAD,
 * DELETE of one key, and LIST. The key is the raw path after `/v1/blobs/`, percent-decoded
 * once here (never by a router pattern, so `%2F` and `/` mean the same and nothing else is
 * rewritten).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery, type ParsedUrlQuery } from "node:querystring";
import express, { type Request, type Response, type Router } from "express";
import multer from "multer";
import type { Readable } from "node:stream";
import { waitForDrain } from "../common/backpressure.js";
import { parseByteRange } from "../common/byte-range.js";
import { ErrorCode, MinikvError, asError } from "../common/errors.js";
import { validateKey } from "../common/keys.js";
import { limits } from "../common/limits.js";
import { PIPE_VALUE_BYTES_MAX } from "../common/volume-client.js";
import { cachedBlobBytes, readBlobBytes, readSmallBlobBytes, type BlobReadDeps } from "./blob-reader.js";
import { reclaim, writeBlob, type BlobWriteDeps } from "./blob-writer.js";
import type { BlobMeta } from "./metadata-commands.js";
import type { Consistency } from "./metadata-store.js";
import type { FastRoute } from "./http-app.js";

export type BlobApiDeps = BlobWriteDeps & BlobReadDeps;

const PREFIX = "/v1/blobs/";
const DEFAULT_CONTENT_TYPE = "application/octet-stream";
const LIST_LIMIT_DEFAULT = 1000;
/** Non-file multipart fields and their size: a form may carry a few small ones. */
const MULTIPART_FIELDS_MAX = 16;
const MULTIPART_FIELD_BYTES_MAX = 64 * 1024;

export function blobRouter(deps: BlobApiDeps): Router {
  const router = express.Router();
  const upload = multipartUpload(deps);
  router.use(async (req, res, next) => {
    if (!req.path.startsWith(PREFIX)) {
      next();
      return;
    }
    const key = keyOf(req.path);
    switch (req.method) {
      case "PUT":
        return put(deps, key, req, res);
      case "POST":
        return upload(key, req, res);
      case "GET":
      case "HEAD":
        return get(deps, key, req, req.query, res);
      case "DELETE":
        return remove(deps, key, res);
      default:
        methodNotAllowed(req);
    }
  });
  // After the per-key routes, so that `/v1/blobs/` (the empty key) is an INVALID_KEY.
  router
    .route("/v1/blobs")
    .get(async (req, res) => {
      await list(deps, req, res);
    })
    .all(methodNotAllowed);
  return router;
}

/**
 * GET, HEAD and PUT of one key without express (http-app.ts createHandler): the same
 * handlers as blobRouter's, which answer them identically when reached through express.
 */
export function blobFastRoute(deps: BlobApiDeps): FastRoute {
  return {
    match: (method, path) =>
      (method === "GET" || method === "HEAD" || method === "PUT") && path.startsWith(PREFIX)
        ? BLOB_ROUTE
        : null,
    handle: async (req, res, path, query) => {
      const key = keyOf(path);
      if (req.method === "PUT") await put(deps, key, req, res);
      else await get(deps, key, req, parseQuery(query), res);
    },
  };
}

/** The metrics label of requests for one key. */
const BLOB_ROUTE = "/v1/blobs/:key";

function methodNotAllowed(req: Request): never {
  throw new MinikvError(ErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${req.path}`);
}

function keyOf(rawPath: string): string {
  let key: string;
  try {
    key = decodeURIComponent(rawPath.slice(PREFIX.length));
  } catch {
    throw new MinikvError(ErrorCode.INVALID_KEY, "key is not valid percent-encoded UTF-8");
  }
  validateKey(key);
  return key;
}

function consistencyOf(query: ParsedUrlQuery | Request["query"]): Consistency {
  const value = query["consistency"];
  if (value === undefined || value === "linearizable") return "linearizable";
  if (value === "stale") return "stale";
  throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `consistency must be "linearizable" or "stale"`);
}

function blobBody(blob: BlobMeta): Record<string, unknown> {
  return { key: blob.key, size: blob.size, etag: blob.etag, version: blob.version, replicas: blob.replicas };
}

/** Turns a client that leaves mid-body into an error of the body stream (never a hang). */
function failOnAbort(req: IncomingMessage, body: Readable): void {
  req.once("close", () => {
    if (!req.complete) {
      body.destroy(new MinikvError(ErrorCode.CLIENT_ABORTED, "the client went away during the upload"));
    }
  });
}

function declaredLength(req: IncomingMessage): number | null {
  const header = req.headers["content-length"];
  if (header === undefined || req.headers["transfer-encoding"] !== undefined) return null;
  const size = Number(header);
  if (!/^\d+$/.test(header) || !Number.isSafeInteger(size)) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `bad Content-Length "${header}"`);
  }
  return size;
}

async function put(deps: BlobApiDeps, key: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  failOnAbort(req, req);
  let blob: BlobMeta;
  try {
    blob = await writeBlob(deps, {
      key,
      body: req,
      declaredSize: declaredLength(req),
      contentType: contentTypeOf(req.headers["content-type"]),
    });
  } catch (err) {
    // The client may still be sending: answer, discard the rest, and close the connection.
    if (!req.complete) {
      res.setHeader("Connection", "close");
      req.resume();
    }
    throw err;
  }
  sendJson(res, 201, blobBody(blob), blob.etag);
}

/** A JSON answer, as express's res.json writes it. */
function sendJson(res: ServerResponse, status: number, body: unknown, etag?: string): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  if (etag !== undefined) res.setHeader("ETag", etag);
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

function contentTypeOf(header: string | undefined): string {
  if (header === undefined || header === "") return DEFAULT_CONTENT_TYPE;
  if (Buffer.byteLength(header) > limits.contentTypeBytesMax) {
    throw new MinikvError(
      ErrorCode.INVALID_ARGUMENT,
      `Content-Type longer than ${limits.contentTypeBytesMax} bytes`,
    );
  }
  return header;
}

/** multer with a storage engine that streams the `file` part straight into the 2PC write. */
function multipartUpload(deps: BlobApiDeps): (key: string, req: Request, res: Response) => Promise<void> {
  const storage: multer.StorageEngine = {
    _handleFile(req, file, callback) {
      const key = (req as Request & { blobKey: string }).blobKey;
      failOnAbort(req, file.stream);
      // Started inside the promise: thrown here, in the form parser's 'file' event, a refusal
      // (a part's Content-Type too long) would be an uncaught exception ending the process.
      Promise.resolve()
        .then(() =>
          writeBlob(deps, {
            key,
            body: file.stream,
            declaredSize: null,
            contentType: contentTypeOf(file.mimetype),
          }),
        )
        .then(
          (blob) => callback(null, { blob } as Partial<Express.Multer.File>),
          (err: unknown) => {
            file.stream.resume(); // drain the rest so the form parser can finish
            callback(asError(err));
          },
        );
    },
    _removeFile(_req, _file, callback) {
      // A committed blob stays: the write already passed its commit point.
      callback(null);
    },
  };
  const handler = multer({
    storage,
    limits: {
      files: 1,
      fields: MULTIPART_FIELDS_MAX,
      fieldSize: MULTIPART_FIELD_BYTES_MAX,
      parts: MULTIPART_FIELDS_MAX + 1,
      // One byte over the bound, so the write itself sees the excess and fails with TOO_LARGE.
      fileSize: limits.blobBytesMax + 1,
    },
  }).single("file");
  return async (key, req, res) => {
    if (!req.is("multipart/form-data")) {
      throw new MinikvError(
        ErrorCode.INVALID_ARGUMENT,
        "POST takes multipart/form-data with a field named file",
      );
    }
    (req as Request & { blobKey: string }).blobKey = key;
    await new Promise<void>((resolve, reject) => {
      handler(req, res, (err: unknown) =>
        err === undefined || err === null ? resolve() : reject(multipartError(err)),
      );
    });
    const blob = (req.file as (Express.Multer.File & { blob?: BlobMeta }) | undefined)?.blob;
    if (blob === undefined) {
      throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "multipart form has no field named file");
    }
    res.status(201).setHeader("ETag", blob.etag);
    res.json(blobBody(blob));
  };
}

function multipartError(err: unknown): Error {
  if (err instanceof MinikvError) return err;
  if (err instanceof multer.MulterError) {
    const code = err.code === "LIMIT_FILE_SIZE" ? ErrorCode.TOO_LARGE : ErrorCode.INVALID_ARGUMENT;
    return new MinikvError(
      code,
      `multipart: ${err.message}${err.field === undefined ? "" : ` (${err.field})`}`,
    );
  }
  // busboy's parse errors: a malformed form.
  return new MinikvError(ErrorCode.INVALID_ARGUMENT, `malformed multipart body: ${(err as Error).message}`, {
    cause: err,
  });
}

async function get(
  deps: BlobApiDeps,
  key: string,
  req: IncomingMessage,
  query: ParsedUrlQuery | Request["query"],
  res: ServerResponse,
): Promise<void> {
  const blob = await deps.cluster.store.getBlob(key, consistencyOf(query));
  if (blob === null) throw new MinikvError(ErrorCode.KEY_NOT_FOUND, `no blob "${key}"`);
  res.setHeader("ETag", blob.etag);
  res.setHeader("Last-Modified", new Date(blob.createdAtMs).toUTCString());
  res.setHeader("Accept-Ranges", "bytes");
  res.setHeader("X-Minikv-Version", String(blob.version));
  if (etagMatches(req.headers["if-none-match"], blob.etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  if (query["redirect"] === "1" && req.method === "GET") return redirect(deps, blob, res);
  res.setHeader("Content-Type", blob.contentType);
  const range = parseByteRange(req.headers.range, blob.size);
  if (range.kind === "unsatisfiable") {
    res.setHeader("Content-Range", `bytes */${blob.size}`);
    throw new MinikvError(ErrorCode.RANGE_NOT_SATISFIABLE, `range outside the blob's ${blob.size} bytes`);
  }
  const [start, endExclusive] = range.kind === "partial" ? [range.start, range.end + 1] : [0, blob.size];
  if (range.kind === "partial") {
    res.statusCode = 206;
    res.setHeader("Content-Range", `bytes ${start}-${endExclusive - 1}/${blob.size}`);
  }
  res.setHeader("Content-Length", String(endExclusive - start));
  if (req.method === "HEAD" || endExclusive === start) {
    res.end();
    return;
  }
  // From the read cache: the headers and the bytes leave in one write.
  const cached = cachedBlobBytes(deps, blob, start, endExclusive);
  if (cached !== undefined) res.end(cached);
  else if (endExclusive - start <= PIPE_VALUE_BYTES_MAX) {
    const bytes = await readSmallBlobBytes(deps, blob, start, endExclusive);
    if (!res.destroyed) res.end(bytes);
  } else await send(readBlobBytes(deps, blob, start, endExclusive), res);
}

/** Holds the headers until the first chunk arrived (so a failed read is still a clean error). */
async function send(bytes: AsyncGenerator<Uint8Array>, res: ServerResponse): Promise<void> {
  const first = await bytes.next();
  res.on("close", () => void bytes.return(undefined));
  if (first.done !== true) {
    if (!res.write(first.value)) await waitForDrain(res);
    for await (const chunk of bytes) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await waitForDrain(res);
    }
  }
  if (!res.destroyed) res.end();
}

async function redirect(deps: BlobApiDeps, blob: BlobMeta, res: ServerResponse): Promise<void> {
  const views = await deps.cluster.volumes();
  const target = blob.replicas
    .map((id) => views.find((v) => v.id === id))
    .find((v) => v !== undefined && v.alive);
  if (target === undefined)
    throw new MinikvError(ErrorCode.UNAVAILABLE, `no replica of "${blob.key}" is alive`);
  const path = blob.key.split("/").map(encodeURIComponent).join("/");
  res.statusCode = 307;
  res.setHeader("Location", `${target.record.httpUrl}/blobs/${path}`);
  res.end();
}

/** RFC 9110 §13.1.2: weak comparison, `*` matches any current representation. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

async function remove(deps: BlobApiDeps, key: string, res: Response): Promise<void> {
  const { result } = await deps.cluster.store.commit({ op: "deleteBlob", key, atMs: deps.now() });
  if (result.previous === null) throw new MinikvError(ErrorCode.KEY_NOT_FOUND, `no blob "${key}"`);
  deps.readCache.forget(key);
  reclaim(deps, result.previous);
  res.status(204).end();
}

async function list(deps: BlobApiDeps, req: Request, res: Response): Promise<void> {
  const prefix = stringParam(req, "prefix") ?? "";
  const startAfter = stringParam(req, "start_after");
  const limitParam = stringParam(req, "limit");
  const limit = limitParam === undefined ? LIST_LIMIT_DEFAULT : Number(limitParam);
  if (
    !Number.isSafeInteger(limit) ||
    limit < 1 ||
    limit > limits.listPageKeysMax ||
    !/^\d+$/.test(limitParam ?? "1")
  ) {
    throw new MinikvError(
      ErrorCode.INVALID_ARGUMENT,
      `limit must be an integer from 1 to ${limits.listPageKeysMax}`,
    );
  }
  const blobs = await deps.cluster.store.listBlobs(
    { prefix, startAfter: startAfter ?? null, limit: limit + 1 },
    consistencyOf(req.query),
  );
  const page = blobs.slice(0, limit);
  res.json({
    keys: page.map((b) => ({ key: b.key, size: b.size, etag: b.etag, version: b.version })),
    next: blobs.length > limit ? (page.at(-1)?.key ?? null) : null,
  });
}

function stringParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || Buffer.byteLength(value) > limits.keyBytesMax) {
    throw new MinikvError(
      ErrorCode.INVALID_ARGUMENT,
      `${name} must be one string of at most ${limits.keyBytesMax} bytes`,
    );
  }
  return value;
}
