import { Option } from "commander";
import { ErrorCode, MinikvError } from "./errors.js";

/**
 * A commander option that also reads MINIKV_<NAME> from the environment, so containers
 * need no wrapper scripts. `--grpc-port` reads MINIKV_GRPC_PORT.
 */
export function envOption(flags: string, description: string, defaultValue?: string): Option {
  const long = /--([a-z0-9-]+)/.exec(flags)?.[1];
  if (long === undefined) throw new Error(`option without a long flag: ${flags}`);
  const option = new Option(flags, description).env(`MINIKV_${long.toUpperCase().replaceAll("-", "_")}`);
  return defaultValue === undefined ? option : option.default(defaultValue);
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses "host:port" (IPv6 in brackets). Port 0 asks the OS for a free one. */
export function parseHostPort(value: string): HostPort {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (match === null || match[1] === undefined || !(port >= 0 && port <= 65535)) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `expected HOST:PORT, got "${value}"`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ""), port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface PeerSpec {
  /** Undefined when given as bare HOST:PORT: the ID is learned from the peer. */
  readonly id: string | undefined;
  readonly address: string;
}

/** Parses `--peers coord-2=127.0.0.1:5003,127.0.0.1:5005`. */
export function parsePeers(value: string): PeerSpec[] {
  return value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const eq = part.indexOf("=");
      const id = eq < 0 ? undefined : part.slice(0, eq);
      const address = eq < 0 ? part : part.slice(eq + 1);
      if (id !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
        throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `invalid peer id "${id}"`);
      }
      return { id, address: formatHostPort(parseHostPort(address)) };
    });
}

/** Parses a comma-separated list of http(s) URLs, dropping trailing slashes. */
export function parseUrlList(value: string): string[] {
  return value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      let url: URL;
      try {
        url = new URL(part);
      } catch (cause) {
        throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `invalid URL "${part}"`, { cause });
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `expected an http(s) URL, got "${part}"`);
      }
      return url.toString().replace(/\/+$/, "");
    });
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses "256MiB", "4k", "1048576" into bytes (binary units). */
export function parseBytes(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = SIZE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (match === null || unit === undefined) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `invalid size "${value}"`);
  }
  return Math.floor(Number(match[1]) * unit);
}

/** Parses "150ms", "2s", "5m", or a bare number of milliseconds. */
export function parseDurationMs(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (match === null) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `invalid duration "${value}"`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "ms"] ?? 1;
  return Math.round(Number(match[1]) * factor);
}

export function parseIntInRange(value: string, min: number, max: number, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new MinikvError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} must be an integer in [${min}, ${max}], got "${value}"`,
    );
  }
  return n;
}
