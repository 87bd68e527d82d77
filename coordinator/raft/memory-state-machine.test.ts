import { kvCommandHandler } from "./kv-commands.js";
import { MemoryStateDisk, MemoryStateMachine } from "./memory-state-machine.js";
import { describeStateMachine } from "./state-machine.conformance.js";

describeStateMachine("MemoryStateMachine (key-value commands)", () => {
  const disk = new MemoryStateDisk();
  return Promise.resolve({
    open: () => Promise.resolve(new MemoryStateMachine(kvCommandHandler, disk)),
    openOther: () => Promise.resolve(new MemoryStateMachine(kvCommandHandler)),
    cleanup: () => Promise.resolve(),
  });
});
