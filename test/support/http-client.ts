import { request, type Agent } from "node:http";

/** One answer, body fully read. The body buffer is the caller's. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface HttpRequestOptions {
  readonly method?: string;
  readonly body?: Uint8Array | string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Whole-request bound; the request is destroyed and the promise rejects after it. */
  readonly timeoutMs?: number;
  /** A keep-alive agent for load loops; a fresh connection per request when absent. */
  readonly agent?: Agent;
}

const TIMEOUT_MS_DEFAULT = 5_000;

/**
 * A minimal HTTP/1.1 client on node:http (keep-alive through `agent`), used by tests and
 * benchmarks so they measure the server, not a client library.
 */
export function httpRequest(url: string, options: HttpRequestOptions = {}): Promise<HttpAnswer> {
  const body = typeof options.body === "string" ? Buffer.from(options.body) : options.body;
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) headers["content-length"] = String(body.byteLength);
  return new Promise((resolveAnswer, rejectAnswer) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", rejectAnswer);
        res.on("end", () => {
          clearTimeout(timer);
          resolveAnswer({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      },
    );
    const timeoutMs = options.timeoutMs ?? TIMEOUT_MS_DEFAULT;
    const timer = setTimeout(
      () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on("error", (err) => {
      clearTimeout(timer);
      rejectAnswer(err);
    });
    req.end(body);
  });
}

/** GET (or `options.method`) and parse the JSON body; throws on a non-2xx status. */
export async function httpJson<T>(url: string, options: HttpRequestOptions = {}): Promise<T> {
  const answer = await httpRequest(url, options);
  if (answer.status < 200 || answer.status > 299) {
    throw new Error(`${options.method ?? "GET"} ${url}: ${answer.status} ${answer.body.toString()}`);
  }
  return JSON.parse(answer.body.toString()) as T;
}
