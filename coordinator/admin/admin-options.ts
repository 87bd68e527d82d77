/**
 * The JSON bodies of the admin endpoints, checked strictly: unknown fields and wrong types
 * are INVALID_ARGUMENT (a typo must not silently run a different job).
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import { SHARD_COUNT } from "../../common/hashing.js";
import { parseHostPort } from "../../common/config.js";
import type { AdminJobConfig } from "./admin-config.js";
import type { CompactOptions } from "./compact-job.js";
import type { RebalanceOptions } from "./rebalance-job.js";
import type { RepairOptions } from "./repair-job.js";
import type { VerifyOptions } from "./verify-job.js";

type Body = Readonly<Record<string, unknown>>;

/** Volume and coordinator ids: what the servers' --id flags accept, within a sane length. */
const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function verifyOptions(body: unknown): VerifyOptions {
  const fields = objectOf(body, ["deep"]);
  return { deep: optionalBoolean(fields, "deep") ?? false };
}

export function repairOptions(body: unknown, config: AdminJobConfig): RepairOptions {
  const fields = objectOf(body, ["dryRun", "replicas", "deep"]);
  return {
    dryRun: optionalBoolean(fields, "dryRun") ?? false,
    replicas: optionalInt(fields, "replicas", 1, config.replicasMax),
    deep: optionalBoolean(fields, "deep") ?? true,
  };
}

export function rebalanceOptions(body: unknown, config: AdminJobConfig): RebalanceOptions {
  const fields = objectOf(body, ["dryRun", "bytesPerSecond"]);
  return {
    dryRun: optionalBoolean(fields, "dryRun") ?? false,
    bytesPerSecond:
      optionalInt(fields, "bytesPerSecond", 1, Number.MAX_SAFE_INTEGER) ?? config.rebalanceBytesPerSecond,
  };
}

export function compactOptions(body: unknown): CompactOptions {
  const fields = objectOf(body, ["shard", "volume"]);
  const volume = fields["volume"];
  if (volume !== undefined && typeof volume !== "string") throw invalid(`"volume" must be a volume id`);
  return {
    shard: optionalInt(fields, "shard", 0, SHARD_COUNT - 1),
    volume: volume === undefined ? undefined : checkId(volume, "volume"),
  };
}

export function coordinatorMember(body: unknown): { id: string; address: string } {
  const fields = objectOf(body, ["id", "address"]);
  const { id, address } = fields;
  if (typeof id !== "string") throw invalid(`"id" (the coordinator's id) is required`);
  if (typeof address !== "string") throw invalid(`"address" (its gRPC HOST:PORT) is required`);
  const hostPort = parseHostPort(address);
  if (hostPort.port === 0) throw invalid(`"address" needs a real port, not 0`);
  return { id: checkId(id, "id"), address: address.trim() };
}

export function checkId(value: string, what: string): string {
  if (!ID_PATTERN.test(value))
    throw invalid(`${what} must be 1-64 characters of letters, digits, ".", "_" or "-"`);
  return value;
}

/** A JSON object with only `allowed` fields; an absent body (no JSON sent) is {}. */
function objectOf(body: unknown, allowed: readonly string[]): Body {
  if (body === undefined) return {};
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw invalid("the request body must be a JSON object");
  const unknown = Object.keys(body).filter((name) => !allowed.includes(name));
  if (unknown.length > 0)
    throw invalid(
      `unknown option ${unknown.map((n) => `"${n}"`).join(", ")}; allowed: ${allowed.join(", ") || "none"}`,
    );
  return body as Body;
}

function optionalBoolean(fields: Body, name: string): boolean | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw invalid(`"${name}" must be true or false`);
  return value;
}

function optionalInt(fields: Body, name: string, min: number, max: number): number | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw invalid(`"${name}" must be an integer from ${min} to ${max}`);
  return value;
}

function invalid(message: string): MinikvError {
  return new MinikvError(ErrorCode.INVALID_ARGUMENT, message);
}
