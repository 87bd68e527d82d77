// Part of `npm run build`: makes the package's `bin` entry points executable. tsc writes them
// without the mode, and npm sets it only when it links bins that already exist, so after a
// fresh `npm install` and the first build `npx minikv` would find a file it may not run.
import { chmodSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { bin } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
for (const target of Object.values(bin ?? {})) {
  const path = join(root, target);
  chmodSync(path, statSync(path).mode | 0o111);
}
