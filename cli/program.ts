import { Command, CommanderError, Option } from "commander";
import { parseUrlList } from "../common/config.js";
import { ErrorCode, isMinikvError } from "../common/errors.js";
import { registerAdminCommands } from "./admin-commands.js";
import { registerBlobCommands, type CommandContext } from "./blob-commands.js";
import { CoordinatorClient } from "./coordinator-client.js";
import { createOutput } from "./output.js";
import { registerDevCommand } from "./dev-command.js";

/** Exit codes (DESIGN.md §3): 0 success, 1 the operation failed, 2 usage error. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const COORDINATOR_URL_DEFAULT = "http://127.0.0.1:5000";

/** Builds the `minikv` program without running it (tests parse with it too). */
export function createProgram(): Command {
  const program = new Command("minikv")
    .description("minikv: a distributed blob store — client and operator commands")
    .addOption(
      new Option(
        "--coordinator <urls>",
        "coordinator URL(s), comma-separated; the next is tried when one is down",
      )
        .env("MINIKV_COORDINATOR")
        .default(COORDINATOR_URL_DEFAULT),
    )
    .option("--json", "print results as JSON")
    .showHelpAfterError()
    .exitOverride();
  const context = (command: Command): CommandContext => {
    const globals = command.optsWithGlobals<{ coordinator: string; json?: boolean }>();
    return {
      client: new CoordinatorClient(parseUrlList(globals.coordinator.trim() || COORDINATOR_URL_DEFAULT)),
      output: createOutput(globals.json === true),
    };
  };
  registerBlobCommands(program, context);
  registerAdminCommands(program, context);
  registerDevCommand(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Maps a failure to an exit code: usage problems are 2, everything else 1. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  if (isMinikvError(err) && (err.code === ErrorCode.INVALID_ARGUMENT || err.code === ErrorCode.INVALID_KEY))
    return EXIT_USAGE;
  return EXIT_FAILED;
}
