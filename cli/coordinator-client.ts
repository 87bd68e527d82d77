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
  /** Per-attempt timeout for the response headers. */
  readonly timeoutMs?: number;
}

const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;

/**
 * An HTTP client for the coordinators' API (DESIGN.md §4) that tries each URL in turn:
 * a coordinator that refuses the connection, times out or answers 503 is skipped for the
 * next one. Errors are MinikvError carrying the server's stable code.
 */
export class CoordinatorClient {
  private readonly urls: readonly string[];
  /** Index of the URL that answered last; tried first next time. */
  private preferred = 0;

  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "no coordinator URL given");
    this.urls = urls;
  }

  /** Sends the request, failing over between coordinators; resolves with the first non-503 answer. */
  async request(options: RequestOptions): Promise<Response> {
    let lastError: MinikvError | undefined;
    for (let attempt = 0; attempt < this.urls.length; attempt++) {
      const index = (this.preferred + attempt) % this.urls.length;
      const url = `${this.urls[index] ?? ""}${options.path}`;
      try {
        const response = await send(url, options);
        if (response.status !== 503 || attempt === this.urls.length - 1 || !options.retryable) {
          this.preferred = index;
          return response;
        }
        lastError = await errorFromResponse(response);
      } catch (err) {
        lastError = new MinikvError(ErrorCode.UNAVAILABLE, `${this.urls[index] ?? ""}: ${describe(err)}`, {
          cause: err,
        });
        if (!options.retryable && bodyWasSent(err)) break;
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
}

async function send(url: string, options: RequestOptions): Promise<Response> {
  const signal = AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT);
  const init: RequestInit & { duplex?: "half" } = {
    method: options.method,
    headers: { ...options.headers },
    signal,
  };
  if (typeof options.body === "string") {
    init.body = options.body;
  } else if (options.body !== undefined) {
    init.body = Readable.toWeb(options.body()) as ReadableStream<Uint8Array>;
    init.duplex = "half";
  }
  return fetch(url, init);
}

/** Turns an error answer ({"error":{"code","message"}}) into a MinikvError. */
export async function errorFromResponse(response: Response): Promise<MinikvError> {
  let code: ErrorCode = response.status === 404 ? ErrorCode.KEY_NOT_FOUND : ErrorCode.UNAVAILABLE;
  let message = `HTTP ${response.status}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code !== undefined && isErrorCode(body.error.code)) code = body.error.code;
    if (body.error?.message !== undefined) message = body.error.message;
  } catch {
    // A body that is not our JSON (a proxy's page, HEAD): keep the status-derived error.
  }
  return new MinikvError(code, message);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return err.name === "TimeoutError" ? "timed out" : `${err.message}${cause}`;
}

/** Whether the failure happened after the server may have received the body. */
function bodyWasSent(err: unknown): boolean {
  const code =
    err instanceof Error && err.cause instanceof Error ? (err.cause as { code?: string }).code : undefined;
  return code !== "ECONNREFUSED" && code !== "ENOTFOUND" && code !== "EHOSTUNREACH";
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
