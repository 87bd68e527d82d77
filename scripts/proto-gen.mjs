// Generates TypeScript types for every proto/*.proto into proto/generated/ (or argv[2]).
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = process.argv[2] ?? join(root, "proto", "generated");
const protoDir = join(root, "proto");
const files = readdirSync(protoDir)
  .filter((f) => f.endsWith(".proto"))
  .sort();
rmSync(outDir, { recursive: true, force: true });
execFileSync(
  join(root, "node_modules", ".bin", "proto-loader-gen-types"),
  [
    "--grpcLib=@grpc/grpc-js",
    "--keepCase",
    "--longs=String",
    "--enums=String",
    "--defaults",
    "--oneofs",
    "--importFileExtension=.js",
    `--includeDirs=${protoDir}`,
    `--outDir=${outDir}`,
    ...files,
  ],
  { stdio: "inherit", cwd: protoDir },
);

// The generator names each source by absolute path; keep the output independent of where the
// repository lives, so the committed files match any checkout.
function relativize(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      relativize(path);
    } else {
      const text = readFileSync(path, "utf8");
      writeFileSync(path, text.replaceAll(`Original file: ${protoDir}/`, "Original file: proto/"));
    }
  }
}
relativize(outDir);
