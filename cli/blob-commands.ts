import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { Readable, type Writable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { ErrorCode, MinikvError } from "../common/errors.js";
import { validateKey } from "../common/keys.js";
import { blobPath, errorFromResponse, type CoordinatorClient } from "./coordinator-client.js";
import { formatBytes, table, type Output } from "./output.js";
import { transferProgress } from "./progress.js";

/** What every command gets from the global options. */
export interface CommandContext {
  readonly client: CoordinatorClient;
  readonly output: Output;
}

export type ContextFactory = (command: Command) => CommandContext;

interface PutAnswer {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly version: number;
  readonly replicas: readonly string[];
}

interface ListAnswer {
  readonly keys: readonly { key: string; size: number; etag: string; version: number }[];
  readonly next: string | null;
}

export function registerBlobCommands(program: Command, context: ContextFactory): void {
  program
    .command("put <key>")
    .description("store a blob from a file or standard input")
    .option("--file <path>", "read the blob from this file instead of standard input")
    .option("--content-type <type>", "Content-Type to store with the blob", "application/octet-stream")
    .addHelpText(
      "after",
      "\nExamples:\n  minikv put photos/cat.jpg --file cat.jpg\n  tar c dir | minikv put backups/dir.tar",
    )
    .action(async (key: string, options: { file?: string; contentType: string }, command: Command) => {
      await put(context(command), validateKey(key), options);
    });

  program
    .command("get <key>")
    .description("fetch a blob to a file or standard output")
    .option("--output <path>", "write to this file (atomically) instead of standard output")
    .addHelpText(
      "after",
      "\nExamples:\n  minikv get photos/cat.jpg --output cat.jpg\n  minikv get logs/app.log | less",
    )
    .action(async (key: string, options: { output?: string }, command: Command) => {
      await get(context(command), validateKey(key), options.output);
    });

  program
    .command("delete <key>")
    .description("delete a blob (exit 1 when it does not exist)")
    .action(async (key: string, _options: unknown, command: Command) => {
      const { client, output } = context(command);
      await client.requestOk({ method: "DELETE", path: blobPath(validateKey(key)), retryable: true });
      output.result({ key, deleted: true }, () => `deleted ${key}`);
    });

  program
    .command("list")
    .description("list keys in UTF-8 byte order")
    .option("--prefix <prefix>", "only keys starting with this prefix", "")
    .option("--limit <n>", "stop after this many keys", "1000")
    .option("--start-after <key>", "start after this key")
    .addHelpText("after", "\nExamples:\n  minikv list --prefix photos/ --limit 50")
    .action(async (options: { prefix: string; limit: string; startAfter?: string }, command: Command) => {
      await list(context(command), options);
    });

  program
    .command("stat <key>")
    .description("show a blob's size, ETag, content type and modification time")
    .action(async (key: string, _options: unknown, command: Command) => {
      await statKey(context(command), validateKey(key));
    });
}

async function put(
  ctx: CommandContext,
  key: string,
  options: { file?: string; contentType: string },
): Promise<void> {
  const headers: Record<string, string> = { "content-type": options.contentType };
  let size: number | undefined;
  if (options.file !== undefined) {
    size = (await stat(options.file)).size;
    headers["content-length"] = String(size);
  }
  const file = options.file;
  const body =
    file === undefined
      ? (() => {
          let used = false;
          return (): Readable => {
            if (used) throw new MinikvError(ErrorCode.UNAVAILABLE, "standard input cannot be sent twice");
            used = true;
            return process.stdin.pipe(transferProgress(undefined, "put"));
          };
        })()
      : (): Readable => createReadStream(file).pipe(transferProgress(size, "put"));
  const answer = await ctx.client.json<PutAnswer>({
    method: "PUT",
    path: blobPath(key),
    headers,
    body,
    retryable: file !== undefined,
    timeoutMs: 24 * 3600 * 1000,
  });
  ctx.output.result(
    answer,
    () =>
      `stored ${answer.key}: ${formatBytes(answer.size)}, etag ${answer.etag}, version ${answer.version}, on ${answer.replicas.join(", ")}`,
  );
}

async function get(ctx: CommandContext, key: string, outputPath: string | undefined): Promise<void> {
  const response = await ctx.client.requestOk({ method: "GET", path: blobPath(key), retryable: true });
  if (response.body === null) throw new MinikvError(ErrorCode.UNAVAILABLE, "empty response");
  const length = Number(response.headers.get("content-length") ?? Number.NaN);
  const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  const progress = transferProgress(Number.isFinite(length) ? length : undefined, "get");
  if (outputPath === undefined) {
    await pipeline(source, progress, process.stdout as Writable);
    return;
  }
  // Write aside and rename, so an interrupted download never leaves a partial file behind.
  const partial = `${outputPath}.minikv-partial`;
  try {
    await pipeline(source, progress, createWriteStream(partial));
    await rename(partial, outputPath);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  ctx.output.result({ key, output: outputPath, size: length }, () => `wrote ${key} to ${outputPath}`);
}

async function list(
  ctx: CommandContext,
  options: { prefix: string; limit: string; startAfter?: string },
): Promise<void> {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "--limit must be a positive integer");
  const keys: ListAnswer["keys"][number][] = [];
  let after = options.startAfter ?? "";
  for (;;) {
    const query = new URLSearchParams({
      prefix: options.prefix,
      limit: String(Math.min(limit - keys.length, 1000)),
    });
    if (after !== "") query.set("start_after", after);
    const page = await ctx.client.json<ListAnswer>({
      method: "GET",
      path: `/v1/blobs?${query.toString()}`,
      retryable: true,
    });
    keys.push(...page.keys);
    if (page.next === null || keys.length >= limit) break;
    after = page.next;
  }
  const more = keys.length >= limit ? (keys[keys.length - 1]?.key ?? null) : null;
  ctx.output.result({ keys, next: more }, () =>
    table(
      ["KEY", "SIZE", "VERSION", "ETAG"],
      keys.map((k) => [k.key, String(k.size), String(k.version), k.etag]),
    ),
  );
}

async function statKey(ctx: CommandContext, key: string): Promise<void> {
  const response = await ctx.client.request({ method: "HEAD", path: blobPath(key), retryable: true });
  if (response.status === 404) throw new MinikvError(ErrorCode.KEY_NOT_FOUND, `no blob with key "${key}"`);
  if (response.status >= 400) throw await errorFromResponse(response);
  const info = {
    key,
    size: Number(response.headers.get("content-length") ?? 0),
    etag: response.headers.get("etag"),
    contentType: response.headers.get("content-type"),
    lastModified: response.headers.get("last-modified"),
  };
  ctx.output.result(info, () =>
    table(
      ["FIELD", "VALUE"],
      Object.entries(info).map(([k, v]) => [k, String(v)]),
    ),
  );
}
