/**
 * The plain key-value state machine on LevelDB (put, delete, batch: kv-commands.ts). The
 * coordinator runs it until its metadata state machine exists; the metadata state machine
 * reuses LevelStateMachine with its own CommandHandler.
 */
import type { KvResult } from "./kv-commands.js";
import { kvCommandHandler } from "./kv-commands.js";
import type { LevelStateMachineOptions } from "./level-state-machine.js";
import { LevelStateMachine, levelStateMachineDefaults } from "./level-state-machine.js";

export type LevelKvStateMachine = LevelStateMachine<KvResult>;

/** Opens (creating if needed) a key-value state machine in directory `path`. */
export function openLevelKvStateMachine(
  path: string,
  options: LevelStateMachineOptions = levelStateMachineDefaults,
): Promise<LevelKvStateMachine> {
  return LevelStateMachine.open(path, kvCommandHandler, options);
}
