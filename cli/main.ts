#!/usr/bin/env node
import { CommanderError } from "commander";
import { createProgram, exitCodeOf } from "./program.js";
import { formatError } from "./output.js";

try {
  await createProgram().parseAsync(process.argv);
} catch (err) {
  // Commander already printed its own usage message.
  if (!(err instanceof CommanderError)) process.stderr.write(`${formatError(err)}\n`);
  process.exitCode = exitCodeOf(err);
}
