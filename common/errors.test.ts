import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { ERROR_TABLE, ErrorCode, MinikvError, errorBody, toMinikvError } from "./errors.js";
import { fromGrpcError, toGrpcError } from "./grpc.js";

describe("errors", () => {
  it("maps every code to an HTTP and a gRPC status", () => {
    for (const code of Object.values(ErrorCode)) {
      const row = ERROR_TABLE[code];
      expect(row.http).toBeGreaterThanOrEqual(400);
      expect(row.http).toBeLessThan(600);
      expect(Object.values(status)).toContain(row.grpc);
    }
  });

  it("keeps the contract's statuses (DESIGN.md §4)", () => {
    expect(new MinikvError(ErrorCode.INVALID_KEY, "x").httpStatus).toBe(400);
    expect(new MinikvError(ErrorCode.KEY_NOT_FOUND, "x").httpStatus).toBe(404);
    expect(new MinikvError(ErrorCode.METHOD_NOT_ALLOWED, "x").httpStatus).toBe(405);
    expect(new MinikvError(ErrorCode.TOO_LARGE, "x").httpStatus).toBe(413);
    expect(new MinikvError(ErrorCode.NOT_ENOUGH_VOLUMES, "x").httpStatus).toBe(503);
    expect(new MinikvError(ErrorCode.NO_QUORUM, "x").httpStatus).toBe(503);
  });

  it("wraps foreign errors with their cause and renders the JSON body", () => {
    const cause = new Error("boom");
    const wrapped = toMinikvError(cause);
    expect(wrapped.code).toBe("INTERNAL");
    expect(wrapped.cause).toBe(cause);
    expect(errorBody(new MinikvError(ErrorCode.SIZE_MISMATCH, "short body"))).toEqual({
      error: { code: "SIZE_MISMATCH", message: "short body" },
    });
  });

  it("names a full disk DISK_FULL wherever a raw ENOSPC or EDQUOT surfaces", () => {
    for (const errno of ["ENOSPC", "EDQUOT"]) {
      const cause = Object.assign(new Error(`${errno}: no space left on device, write`), { code: errno });
      expect(toMinikvError(cause).code).toBe("DISK_FULL");
    }
    expect(toMinikvError(Object.assign(new Error("EIO"), { code: "EIO" })).code).toBe("INTERNAL");
  });

  it("carries the stable code across a gRPC boundary", () => {
    const sent = toGrpcError(new MinikvError(ErrorCode.DATA_CORRUPT, "crc mismatch at segment 3"));
    expect(sent.code).toBe(status.DATA_LOSS);
    const received = fromGrpcError(sent);
    expect(received.code).toBe("DATA_CORRUPT");
    expect(received.message).toBe("crc mismatch at segment 3");
    expect(fromGrpcError({ code: status.UNAVAILABLE, message: "connect ECONNREFUSED" }).code).toBe(
      "UNAVAILABLE",
    );
  });
});
