import { spawn } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

const LOGGER = join(import.meta.dirname, "..", "dist", "common", "logger.js");

/**
 * A server whose stderr's reader is gone (a supervisor stopped before it) still exits: its
 * last lines fail to be written instead of being retried for ever.
 */
it("a process whose stderr reader is gone exits after logging on its way out", async () => {
  const script = [
    `import { createLogger } from ${JSON.stringify(LOGGER)};`,
    `const log = createLogger("test");`,
    `log.info("ready");`,
    `process.on("SIGTERM", () => { log.info("one"); log.info("two"); process.exit(3); });`,
    `setInterval(() => undefined, 1000);`,
  ].join("\n");
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, MINIKV_LOG_LEVEL: "info" },
  });
  try {
    await new Promise((resolve) => child.stderr.once("data", resolve));
    child.stderr.destroy();
    child.stdout.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const outcome = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve("running"), 5_000)),
    ]);
    expect(outcome).toBe(3);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});
