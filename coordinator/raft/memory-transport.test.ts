import { MemoryNetwork } from "./memory-transport.js";
import type { Transport } from "./transport.js";
import { describeTransport } from "./transport.conformance.js";

describeTransport("MemoryTransport", () => {
  const network = new MemoryNetwork();
  const created: Transport[] = [];
  return Promise.resolve({
    create: (ids: readonly string[]) => {
      const transports = ids.map((id) => network.transport(id));
      for (const t of transports) for (const id of ids) t.setPeer(id, `memory:${id}`);
      created.push(...transports);
      return Promise.resolve(transports);
    },
    cleanup: async () => {
      for (const t of created) await t.close();
    },
  });
});
