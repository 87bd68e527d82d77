/**
 * A 3-member etcd cluster as a baseline, run through the shared peers harness
 * (`../shared/peers/etcd/start.sh` / `stop.sh`: etcd 3.4 from Debian on 127.0.0.1, client
 * ports 2379/2479/2579, data under /tmp/peers-etcd; stop.sh stops exactly the PIDs start.sh
 * recorded). Load goes to the leader's HTTP/JSON gateway, `POST /v3/kv/put`.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import type { Agent } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { httpJson, httpRequest } from "../../test/support/http-client.js";
import { REPO_ROOT } from "../../test/support/process-harness.js";

const run = promisify(execFile);

/** The peers harness's etcd scripts: ../shared/peers/etcd beside the repository (MINIKV_PEERS_DIR overrides ../shared/peers). */
export const ETCD_PEERS_DIR = join(
  process.env["MINIKV_PEERS_DIR"] ?? join(REPO_ROOT, "..", "shared", "peers"),
  "etcd",
);
const ETCD_BASE = "/tmp/peers-etcd";
const CLIENT_URLS = ["http://127.0.0.1:2379", "http://127.0.0.1:2479", "http://127.0.0.1:2579"] as const;
const SCRIPT_TIMEOUT_MS = 120_000;

/** Why etcd cannot be measured here, or undefined when it can. */
export function etcdUnavailableReason(peersDir = ETCD_PEERS_DIR): string | undefined {
  if (!existsSync(join(peersDir, "start.sh"))) return `no etcd peer scripts at ${peersDir}`;
  if (!["/usr/bin/etcd", "/usr/local/bin/etcd"].some((p) => existsSync(p))) {
    return "etcd is not installed (run ../shared/peers/install.sh)";
  }
  if (existsSync(join(ETCD_BASE, "pids")))
    return `${ETCD_BASE}/pids exists: an etcd cluster is already running`;
  return undefined;
}

/** A running 3-member etcd started by the peers harness. */
export class EtcdPeer {
  private constructor(
    private readonly peersDir: string,
    /** Client URL of the member that was leader when the cluster came up. */
    readonly leaderUrl: string,
  ) {}

  /**
   * Runs start.sh with the members at nice `nice` in sessions of their own (BENCH_NICE),
   * like the coordinators the same benchmark starts, and finds the leader. If anything
   * fails after start.sh ran, stop.sh runs before rethrowing.
   */
  static async start(nice: number, peersDir = ETCD_PEERS_DIR): Promise<EtcdPeer> {
    await run(join(peersDir, "start.sh"), [], {
      env: { ...process.env, BENCH_NICE: String(nice) },
      timeout: SCRIPT_TIMEOUT_MS,
    });
    try {
      return new EtcdPeer(peersDir, await findLeader());
    } catch (err) {
      await stopEtcd(peersDir);
      throw err;
    }
  }

  /** One linearizable 256-byte-class put through the gateway; rejects on a non-200 answer. */
  async put(key: string, value: Uint8Array, agent: Agent): Promise<void> {
    const body = JSON.stringify({
      key: Buffer.from(key).toString("base64"),
      value: Buffer.from(value).toString("base64"),
    });
    const answer = await httpRequest(`${this.leaderUrl}/v3/kv/put`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
      agent,
      timeoutMs: 30_000,
    });
    if (answer.status !== 200)
      throw new Error(`etcd put: ${answer.status} ${answer.body.toString().slice(0, 200)}`);
  }

  /** Runs stop.sh: the recorded PIDs only, and removes the data. */
  stop(): Promise<void> {
    return stopEtcd(this.peersDir);
  }
}

async function stopEtcd(peersDir: string): Promise<void> {
  await run(join(peersDir, "stop.sh"), [], { timeout: SCRIPT_TIMEOUT_MS });
}

interface EtcdStatus {
  readonly header?: { readonly member_id?: string };
  readonly leader?: string;
}

async function findLeader(): Promise<string> {
  for (const url of CLIENT_URLS) {
    const status = await httpJson<EtcdStatus>(`${url}/v3/maintenance/status`, { method: "POST", body: "{}" });
    if (status.header?.member_id !== undefined && status.header.member_id === status.leader) return url;
  }
  throw new Error("no etcd member reports itself leader");
}
