import { status as GrpcStatus } from "@grpc/grpc-js";

/**
 * Stable error codes. Clients and operators match on these strings; never rename one.
 * Each maps to exactly one HTTP status and one gRPC status (see ERROR_TABLE).
 */
export const ErrorCode = {
  INVALID_KEY: "INVALID_KEY",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  SIZE_MISMATCH: "SIZE_MISMATCH",
  CHECKSUM_MISMATCH: "CHECKSUM_MISMATCH",
  KEY_NOT_FOUND: "KEY_NOT_FOUND",
  TX_NOT_FOUND: "TX_NOT_FOUND",
  NOT_FOUND: "NOT_FOUND",
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  CONFLICT: "CONFLICT",
  TOO_LARGE: "TOO_LARGE",
  RANGE_NOT_SATISFIABLE: "RANGE_NOT_SATISFIABLE",
  CLIENT_ABORTED: "CLIENT_ABORTED",
  DATA_CORRUPT: "DATA_CORRUPT",
  DISK_FULL: "DISK_FULL",
  OVERLOADED: "OVERLOADED",
  NOT_ENOUGH_VOLUMES: "NOT_ENOUGH_VOLUMES",
  NO_QUORUM: "NO_QUORUM",
  NOT_LEADER: "NOT_LEADER",
  UNAVAILABLE: "UNAVAILABLE",
  TIMEOUT: "TIMEOUT",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  INTERNAL: "INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface StatusPair {
  readonly http: number;
  readonly grpc: GrpcStatus;
}

/** One row per code: the HTTP status an API answers with and the gRPC status a service returns. */
export const ERROR_TABLE: Readonly<Record<ErrorCode, StatusPair>> = {
  INVALID_KEY: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  INVALID_ARGUMENT: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  SIZE_MISMATCH: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  CHECKSUM_MISMATCH: { http: 400, grpc: GrpcStatus.DATA_LOSS },
  KEY_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  TX_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.UNIMPLEMENTED },
  METHOD_NOT_ALLOWED: { http: 405, grpc: GrpcStatus.UNIMPLEMENTED },
  CONFLICT: { http: 409, grpc: GrpcStatus.ABORTED },
  TOO_LARGE: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  RANGE_NOT_SATISFIABLE: { http: 416, grpc: GrpcStatus.OUT_OF_RANGE },
  CLIENT_ABORTED: { http: 499, grpc: GrpcStatus.CANCELLED },
  DATA_CORRUPT: { http: 500, grpc: GrpcStatus.DATA_LOSS },
  DISK_FULL: { http: 507, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  OVERLOADED: { http: 503, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  NOT_ENOUGH_VOLUMES: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  NO_QUORUM: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  NOT_LEADER: { http: 503, grpc: GrpcStatus.FAILED_PRECONDITION },
  UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  TIMEOUT: { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED },
  SHUTTING_DOWN: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL },
};

/** The one error class for operating errors (bad input, disk full, peer down). */
export class MinikvError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable detail, e.g. the leader's address for NOT_LEADER. */
  readonly detail: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; detail?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MinikvError";
    this.code = code;
    this.detail = options?.detail;
  }

  get httpStatus(): number {
    return ERROR_TABLE[this.code].http;
  }

  get grpcStatus(): GrpcStatus {
    return ERROR_TABLE[this.code].grpc;
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ErrorCode, value);
}

export function isMinikvError(err: unknown, code?: ErrorCode): err is MinikvError {
  return err instanceof MinikvError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a MinikvError, keeping the original as `cause`. */
export function toMinikvError(err: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): MinikvError {
  if (err instanceof MinikvError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // A full disk is an operating condition with its own code wherever it surfaces.
  return new MinikvError(isOutOfSpace(err) ? ErrorCode.DISK_FULL : fallback, message, { cause: err });
}

/** `err` as an Error (a thrown non-Error becomes one with its text). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A system error saying the disk (or the quota) is full: ENOSPC or EDQUOT. */
export function isOutOfSpace(err: unknown): boolean {
  const errno = (err as { code?: unknown } | null)?.code;
  return errno === "ENOSPC" || errno === "EDQUOT";
}

/** The JSON body every HTTP error answer carries. */
export function errorBody(err: MinikvError): { error: { code: ErrorCode; message: string } } {
  return { error: { code: err.code, message: err.message } };
}

/** Programmer errors (broken invariants) crash: they are never handled as operating errors. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
