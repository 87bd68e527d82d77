import { describe, expect, it } from "vitest";
import { parseBytes, parseDurationMs, parseHostPort, parsePeers, parseUrlList } from "./config.js";

describe("config parsing", () => {
  it("parses peers with and without ids", () => {
    expect(parsePeers("coord-2=127.0.0.1:5003, 127.0.0.1:5005")).toEqual([
      { id: "coord-2", address: "127.0.0.1:5003" },
      { id: undefined, address: "127.0.0.1:5005" },
    ]);
    expect(() => parsePeers("coord-2=nohost")).toThrow(/HOST:PORT/);
  });

  it("parses host:port including IPv6", () => {
    expect(parseHostPort("0.0.0.0:5000")).toEqual({ host: "0.0.0.0", port: 5000 });
    expect(parseHostPort("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(() => parseHostPort("x:70000")).toThrow();
  });

  it("parses sizes, durations and URL lists", () => {
    expect(parseBytes("256MiB")).toBe(256 * 1024 * 1024);
    expect(parseBytes("4k")).toBe(4096);
    expect(() => parseBytes("4 parsecs")).toThrow();
    expect(parseDurationMs("150ms")).toBe(150);
    expect(parseDurationMs("2s")).toBe(2000);
    expect(parseUrlList("http://127.0.0.1:5000/,http://127.0.0.1:5002")).toEqual([
      "http://127.0.0.1:5000",
      "http://127.0.0.1:5002",
    ]);
    expect(() => parseUrlList("ftp://x")).toThrow();
  });
});
