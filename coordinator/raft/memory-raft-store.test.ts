import { describeLogStore } from "./log-store.conformance.js";
import { MemoryRaftDisk, MemoryRaftStore } from "./memory-raft-store.js";
import { describeStableStore } from "./stable-store.conformance.js";

function harness() {
  const disk = new MemoryRaftDisk();
  return Promise.resolve({
    open: () => Promise.resolve(new MemoryRaftStore(disk)),
    cleanup: () => Promise.resolve(),
  });
}

describeLogStore("MemoryRaftStore", harness);
describeStableStore("MemoryRaftStore", harness);
