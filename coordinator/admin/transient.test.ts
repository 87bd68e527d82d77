import { describe, expect, it } from "vitest";
import { ErrorCode, MinikvError } from "../../common/errors.js";
import { READ_ATTEMPTS, isTransient, retryTransientRead } from "./transient.js";

describe("retryTransientRead (operator jobs' metadata reads)", () => {
  it("answers once a read barrier that timed out under load is confirmed on a later attempt", async () => {
    let calls = 0;
    const value = await retryTransientRead(() => {
      calls += 1;
      if (calls < 3) throw new MinikvError(ErrorCode.NO_QUORUM, "read index not confirmed in time");
      return Promise.resolve("page");
    });
    expect(value).toBe("page");
    expect(calls).toBe(3);
  });

  it("gives up after READ_ATTEMPTS transient failures, with the last error", async () => {
    let calls = 0;
    const read = retryTransientRead(() => {
      calls += 1;
      return Promise.reject(new MinikvError(ErrorCode.UNAVAILABLE, `attempt ${calls}`));
    });
    await expect(read).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: `attempt ${READ_ATTEMPTS}`,
    });
    expect(calls).toBe(READ_ATTEMPTS);
  });

  it("does not retry a failure another attempt cannot change", async () => {
    let calls = 0;
    const read = retryTransientRead(() => {
      calls += 1;
      return Promise.reject(new MinikvError(ErrorCode.INVALID_KEY, "bad key"));
    });
    await expect(read).rejects.toMatchObject({ code: ErrorCode.INVALID_KEY });
    expect(calls).toBe(1);
    expect(isTransient(new Error("plain"))).toBe(false);
    expect(isTransient(new MinikvError(ErrorCode.NOT_LEADER, "x"))).toBe(true);
  });
});
