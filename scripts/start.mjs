// `npm start`: builds when dist/ is missing or older than the sources, then starts the
// local cluster with `minikv dev` (see README.md).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE_DIRS = ["common", "volume", "coordinator", "cli", "proto"];

function newestMtimeMs(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    newest = Math.max(newest, st.isDirectory() ? newestMtimeMs(path) : st.mtimeMs);
  }
  return newest;
}

const cli = join(root, "dist", "cli", "main.js");
const sourcesMs = Math.max(...SOURCE_DIRS.map((d) => newestMtimeMs(join(root, d))));
if (!existsSync(cli) || newestMtimeMs(join(root, "dist")) < sourcesMs) {
  console.error("building minikv (npm run build)…");
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
}
const child = spawn(process.execPath, [cli, "dev", ...process.argv.slice(2)], {
  cwd: process.cwd(),
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
