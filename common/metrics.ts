import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * A per-process metrics registry with Node's default metrics (memory, event loop, fds).
 * Each server owns one so that several servers in one test process do not collide.
 */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return registry;
}
