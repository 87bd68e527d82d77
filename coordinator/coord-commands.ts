/**
 * The coordinator's state machine runs two kinds of commands from one log: the metadata
 * commands (blobs, volumes, presumed-abort decisions) and the plain key-value commands of the
 * internal Raft endpoints (`/v1/internal/raft/*`, used to check the Raft group on its own).
 * The first byte tells them apart; their keyspaces cannot meet because metadata keys start
 * with a control byte (0x01–0x03) that a validated key never holds.
 */
import type { ApplyTx, CommandHandler } from "./raft/command-handler.js";
import { kvCommandHandler, type KvResult } from "./raft/kv-commands.js";
import { METADATA_TAG, metadataCommandHandler, type MetadataResult } from "./metadata-commands.js";

export type CoordResult = KvResult | MetadataResult;

export const coordCommandHandler: CommandHandler<CoordResult> = {
  apply(command: Uint8Array, tx: ApplyTx, index: number): Promise<CoordResult> {
    return command[0] === METADATA_TAG
      ? metadataCommandHandler.apply(command, tx, index)
      : kvCommandHandler.apply(command, tx, index);
  },
};
