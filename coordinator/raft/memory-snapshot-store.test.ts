import { MemorySnapshotDisk, MemorySnapshotStore } from "./memory-snapshot-store.js";
import { describeSnapshotStore } from "./snapshot-store.conformance.js";

describeSnapshotStore("MemorySnapshotStore", () => {
  const disk = new MemorySnapshotDisk();
  return Promise.resolve({
    open: () => Promise.resolve(new MemorySnapshotStore(disk)),
    cleanup: () => Promise.resolve(),
  });
});
