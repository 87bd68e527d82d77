import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { ErrorCode, MinikvError, isErrorCode } from "../common/errors.js";

/** A request body the client can send again when it fails over: a factory, not a stream. */
export type BodySource = () => Readable;

export interface RequestOptions {
  readonly method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  /** Path with query, e.g. "/v1/blobs/a%2Fb". */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | BodySource;
  /**
   * Whether the request may be sent to the next coordinator after it reached one. True for
   * reads and idempotent admin calls; a PUT whose body already streamed is only retried when
   * its body can be produced again (a file), never from stdin.
   */
  readonly retryable: boolean;
  /** Per-attempt timeout for the response headers (the body may take longer). */
  readonly timeoutMs?: number;
}

/** Bounds of the client; a config object rather than common/limits.ts, as only the CLI uses them. */
export const clientLimits = {
  requestTimeoutMsDefault: 30_000,
  /** Leader hints (NOT_LEADER + leaderUrl) followed per request, so two confused nodes cannot loop. */
  leaderHintsMax: 2,
  /**
   * Bytes of a response body queued for a slow reader before the socket stops being read
   * (TCP backpressure then reaches the server). Set explicitly: Readable.toWeb's default
   * strategy has counted chunks rather than bytes in some Node releases.
   */
  responseQueueBytesMax: 1024 * 1024,
} as const;

/**
 * An HTTP client for the coordinators' API (DESIGN.md §3, §4) that tries each URL in turn: a
 * coordinator that refuses the connection, times out or answers 503 is skipped for the next
 * one, and a NOT_LEADER answer naming the leader's URL sends the request there next. Answers
 * are WHATWG Responses whose body streams from the socket with backpressure. It speaks
 * node:http rather than fetch, because fetch refuses "bad ports" such as 6000 or 5060.
 * Errors are MinikvError carrying the server's stable code.
 */
export class CoordinatorClient {
  private readonly urls: readonly string[];
  /** The URL that answered last; tried first next time. */
  private preferred: string;

  constructor(urls: readonly string[]) {
    const first = urls[0];
    if (first === undefined) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "no coordinator URL given");
    this.urls = urls;
    this.preferred = first;
  }

  /** Sends the request, failing over between coordinators; resolves with the first non-503 answer. */
  async request(options: RequestOptions): Promise<Response> {
    const queue = this.attemptOrder();
    const tried = new Set<string>();
    let hintsLeft: number = clientLimits.leaderHintsMax;
    let lastError: MinikvError | undefined;
    for (let base = queue.shift(); base !== undefined; base = queue.shift()) {
      tried.add(base);
      const outcome = await attempt(base, options, queue.length === 0);
      if (outcome.kind === "answer") {
        this.preferred = base;
        return outcome.response;
      }
      lastError = outcome.error;
      if (outcome.kind === "stop") break;
      const hint = outcome.leaderUrl;
      if (hint !== undefined && !tried.has(hint) && hintsLeft > 0) {
        hintsLeft--;
        moveToFront(queue, hint);
      }
    }
    throw lastError ?? new MinikvError(ErrorCode.UNAVAILABLE, "no coordinator answered");
  }

  /** Like request(), but a non-2xx answer becomes a MinikvError. */
  async requestOk(options: RequestOptions): Promise<Response> {
    const response = await this.request(options);
    if (response.status >= 400) throw await errorFromResponse(response);
    return response;
  }

  async json<T>(options: RequestOptions): Promise<T> {
    const response = await this.requestOk(options);
    return (await response.json()) as T;
  }

  /** Every URL once, the preferred one first, the others in the order given. */
  private attemptOrder(): string[] {
    return [this.preferred, ...this.urls.filter((url) => url !== this.preferred)];
  }
}

/** What one attempt at one coordinator came to. */
type Outcome =
  | { readonly kind: "answer"; readonly response: Response }
  /** Try the next coordinator (the leader's first, when known). */
  | { readonly kind: "next"; readonly error: MinikvError; readonly leaderUrl?: string }
  /** A non-retryable body may have reached the server: sending it elsewhere could apply it twice. */
  | { readonly kind: "stop"; readonly error: MinikvError };

async function attempt(base: string, options: RequestOptions, last: boolean): Promise<Outcome> {
  let response: Response;
  try {
    response = await send(`${base}${options.path}`, options);
  } catch (err) {
    const reached = err instanceof SendError && err.reachedServer;
    const error = new MinikvError(ErrorCode.UNAVAILABLE, `${base}: ${describe(err)}`, { cause: err });
    return { kind: !options.retryable && reached ? "stop" : "next", error };
  }
  if (response.status !== 503 || last || !options.retryable) return { kind: "answer", response };
  const { error, leaderUrl } = await readErrorAnswer(response);
  return leaderUrl === undefined ? { kind: "next", error } : { kind: "next", error, leaderUrl };
}

function moveToFront(queue: string[], url: string): void {
  const at = queue.indexOf(url);
  if (at === 0) return;
  if (at > 0) queue.splice(at, 1);
  queue.unshift(url);
}

/** A failed attempt, and whether the server may have seen (part of) the request. */
class SendError extends Error {
  readonly reachedServer: boolean;

  constructor(message: string, reachedServer: boolean, cause: unknown) {
    super(message, { cause });
    this.name = "SendError";
    this.reachedServer = reachedServer;
  }
}

/**
 * One HTTP exchange over node:http. Resolves when the response headers arrive; the request
 * body keeps streaming (with backpressure, through pipe) while the server reads it.
 */
function send(url: string, options: RequestOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === "https:" ? https : http;
    const req = transport.request(target, { method: options.method, headers: { ...options.headers } });
    let reachedServer = false;
    let settled = false;
    const fail = (err: unknown, message = describe(err)): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new SendError(message, reachedServer, err));
    };
    const timeoutMs = options.timeoutMs ?? clientLimits.requestTimeoutMsDefault;
    const timer = setTimeout(
      () => fail(new Error(`no answer within ${timeoutMs} ms`), "timed out"),
      timeoutMs,
    );
    req.on("socket", (socket) => {
      if (!socket.connecting) reachedServer = true;
      else socket.once("connect", () => (reachedServer = true));
    });
    req.on("error", (err) => fail(err));
    req.on("response", (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      // Thrown here, in the event handler, a failure would escape the promise as an uncaught
      // exception: an answer the Response cannot carry (a status outside 200..599) fails instead.
      let response: Response;
      try {
        response = toWebResponse(res, options.method);
      } catch (err) {
        res.destroy();
        fail(err, `unusable answer (HTTP ${res.statusCode ?? "?"})`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(response);
    });
    writeBody(req, options.body, fail);
  });
}

function writeBody(
  req: http.ClientRequest,
  body: RequestOptions["body"],
  fail: (err: unknown) => void,
): void {
  if (body === undefined || typeof body === "string") {
    req.end(body);
    return;
  }
  let source: Readable;
  try {
    source = body();
  } catch (err) {
    fail(err);
    return;
  }
  // A source that fails mid-stream aborts the request: the server sees a short body and stores nothing.
  source.once("error", (err) => {
    fail(err);
    req.destroy(err);
  });
  req.once("close", () => source.destroy());
  source.pipe(req);
}

/** Statuses whose answers carry no body (RFC 9110 §6.4.1); the Response constructor insists. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function toWebResponse(res: IncomingMessage, method: RequestOptions["method"]): Response {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] ?? "", raw[i + 1] ?? "");
  const init = { status: res.statusCode ?? 500, statusText: res.statusMessage ?? "", headers };
  if (method === "HEAD" || NULL_BODY_STATUSES.has(init.status)) {
    res.resume();
    return new Response(null, init);
  }
  const strategy = new ByteLengthQueuingStrategy({ highWaterMark: clientLimits.responseQueueBytesMax });
  return new Response(Readable.toWeb(res, { strategy }), init);
}

/** Turns an error answer ({"error":{"code","message"}}) into a MinikvError. */
export async function errorFromResponse(response: Response): Promise<MinikvError> {
  return (await readErrorAnswer(response)).error;
}

/** The error an answer carries, and the leader's URL when a follower named it (NOT_LEADER). */
async function readErrorAnswer(response: Response): Promise<{ error: MinikvError; leaderUrl?: string }> {
  let code: ErrorCode = response.status === 404 ? ErrorCode.KEY_NOT_FOUND : ErrorCode.UNAVAILABLE;
  let message = `HTTP ${response.status}`;
  let leaderUrl: string | undefined;
  try {
    const body = (await response.json()) as {
      error?: { code?: unknown; message?: unknown; leaderUrl?: unknown };
    };
    if (typeof body.error?.code === "string" && isErrorCode(body.error.code)) code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
    leaderUrl = leaderHint(body.error?.leaderUrl);
  } catch {
    // A body that is not our JSON (a proxy's page, HEAD): keep the status-derived error.
  }
  const error = new MinikvError(code, message);
  return leaderUrl === undefined || code !== ErrorCode.NOT_LEADER ? { error } : { error, leaderUrl };
}

/** A usable leader URL (http(s), no trailing slash), or undefined. */
function leaderHint(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.toString().replace(/\/+$/, "");
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

/**
 * Encodes a key for the URL path: each segment percent-encoded, slashes kept. URL parsers
 * collapse "." and ".." segments (even as %2E), so a key with such a segment is sent with its
 * slashes encoded too; the server percent-decodes either form to the same key.
 */
export function blobPath(key: string): string {
  const segments = key.split("/");
  const hasDotSegment = segments.some((segment) => segment === "." || segment === "..");
  return `/v1/blobs/${hasDotSegment ? encodeURIComponent(key) : segments.map(encodeURIComponent).join("/")}`;
}
