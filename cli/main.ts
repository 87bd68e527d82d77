#!/usr/bin/env node
import { Command } from "commander";

const program = new Command("minikv")
  .description("minikv: a distributed blob store. Client and operator commands.")
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program.parse();
