import type * as http2 from "node:http2";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ERROR_TABLE, ErrorCode, MinikvError, isErrorCode, toMinikvError } from "./errors.js";
import { limits } from "./limits.js";

/** Directory holding the .proto files, both from source (tsx/vitest) and from dist/. */
export function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // common/ in source, dist/common/ when compiled: proto/ sits at the package root.
  const root = basename(dirname(here)) === "dist" ? join(here, "..", "..") : join(here, "..");
  return join(root, "proto");
}

/** Loads a proto file with the same options the type generator uses (scripts/proto-gen.mjs). */
export function loadProto<T>(file: string): T {
  const definition = protoLoader.loadSync(join(protoDir(), file), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [protoDir()],
  });
  return grpc.loadPackageDefinition(definition) as unknown as T;
}

/**
 * Channel options shared by every client and server: bounded messages, keepalive on, and a
 * short reconnect backoff (grpc-js defaults to up to 120 s), so a peer that restarts is
 * reached again within a couple of seconds.
 */
export const grpcChannelOptions: grpc.ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 200,
  "grpc.max_reconnect_backoff_ms": 2_000,
  "grpc.max_receive_message_length": limits.grpcMessageBytesMax,
  "grpc.max_send_message_length": limits.grpcMessageBytesMax,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
};

/**
 * HTTP/2 receive windows of a server that takes large client streams (a volume's Prepare):
 * Node's default is 64 KiB per stream and per connection, so an upload stalls for a
 * WINDOW_UPDATE every 64 KiB, and concurrent uploads on one connection share those 64 KiB.
 * grpc-js honours `grpc-node.flow_control_window` only on the client side (a server option
 * is proposed upstream, grpc/grpc-node#3058), so widenServerWindows applies the same two
 * settings the way that change does. The window bounds what a sender may have in flight:
 * at most streamBytes per call and connectionBytes per connection are buffered here.
 * 256 KiB / 1 MiB: 1 MiB / 4 MiB streamed faster still but raised a coordinator's peak RSS
 * during a 512 MiB upload from about 131 to 158 MiB; these left it at 133.
 */
export const serverWindows = { streamBytes: 256 * 1024, connectionBytes: 1024 * 1024 } as const;

/** grpc-js internals widenServerWindows relies on (checked at run time, never assumed). */
interface ServerInternals {
  commonServerOptions?: http2.ServerOptions;
  http2Servers?: Map<http2.Http2Server, unknown>;
}

/**
 * Call before bindAsync: new sessions advertise serverWindows.streamBytes per stream. Returns
 * a function to call after the bind, which raises each session's connection window. Both
 * are no-ops (returning false) if this grpc-js does not have the internals they use.
 */
export function widenServerWindows(server: grpc.Server): () => boolean {
  const internals = server as unknown as ServerInternals;
  const options = internals.commonServerOptions;
  if (options === undefined) return () => false;
  options.settings = { ...options.settings, initialWindowSize: serverWindows.streamBytes };
  return () => {
    const servers = internals.http2Servers;
    if (!(servers instanceof Map) || servers.size === 0) return false;
    for (const http2Server of servers.keys()) {
      http2Server.on("session", (session: http2.ServerHttp2Session) => {
        if (!session.destroyed) session.setLocalWindowSize(serverWindows.connectionBytes);
      });
    }
    return true;
  };
}

const CODE_METADATA_KEY = "minikv-code";

/** Turns a MinikvError (or anything thrown) into a gRPC ServiceError carrying the stable code. */
export function toGrpcError(err: unknown): Partial<grpc.StatusObject> & Error {
  const e = toMinikvError(err);
  const metadata = new grpc.Metadata();
  metadata.set(CODE_METADATA_KEY, e.code);
  for (const [key, value] of Object.entries(e.detail ?? {}))
    metadata.set(`minikv-detail-${key.toLowerCase()}`, value);
  return Object.assign(new Error(e.message), { code: e.grpcStatus, details: e.message, metadata });
}

/** Turns a gRPC client error back into a MinikvError with the server's code. */
export function fromGrpcError(err: unknown): MinikvError {
  if (err instanceof MinikvError) return err;
  const service = err as Partial<grpc.ServiceError>;
  const sent = service.metadata?.get(CODE_METADATA_KEY)[0];
  if (typeof sent === "string" && isErrorCode(sent)) {
    return new MinikvError(sent, service.details ?? service.message ?? sent, { cause: err });
  }
  const byStatus: Partial<Record<grpc.status, ErrorCode>> = {
    [grpc.status.UNAVAILABLE]: ErrorCode.UNAVAILABLE,
    [grpc.status.DEADLINE_EXCEEDED]: ErrorCode.TIMEOUT,
    [grpc.status.CANCELLED]: ErrorCode.CLIENT_ABORTED,
    [grpc.status.NOT_FOUND]: ErrorCode.KEY_NOT_FOUND,
    [grpc.status.RESOURCE_EXHAUSTED]: ErrorCode.OVERLOADED,
  };
  const code = (service.code !== undefined ? byStatus[service.code] : undefined) ?? ErrorCode.UNAVAILABLE;
  return new MinikvError(code, service.details ?? service.message ?? "gRPC call failed", { cause: err });
}

/** The gRPC status a code maps to (exported for tests). */
export function grpcStatusOf(code: ErrorCode): grpc.status {
  return ERROR_TABLE[code].grpc;
}
