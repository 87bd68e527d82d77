// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "proto/generated/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    // The Raft core is a pure state machine: time arrives as tick(), randomness as a seeded
    // generator, and every effect leaves through Ready. No I/O, clock or entropy in here.
    files: ["coordinator/raft/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "node:*",
                "fs",
                "net",
                "http",
                "crypto",
                "os",
                "child_process",
                "timers",
                "worker_threads",
              ],
              message: "The Raft core does no I/O.",
            },
            {
              group: ["level", "classic-level", "@grpc/*", "express"],
              message: "The Raft core does no I/O.",
            },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "setTimeout", message: "Time enters the core only through tick()." },
        { name: "setInterval", message: "Time enters the core only through tick()." },
        { name: "setImmediate", message: "Time enters the core only through tick()." },
        { name: "performance", message: "Time enters the core only through tick()." },
        { name: "process", message: "The core does no I/O." },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Time enters the core only through tick()." },
        { object: "Math", property: "random", message: "Randomness comes from the seeded generator." },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "NewExpression[callee.name='Date']",
          message: "Time enters the core only through tick().",
        },
      ],
    },
  },
  {
    // The Raft simulator replays a seed exactly: its randomness and time come from the seed.
    files: ["coordinator/raft/sim/**/*.ts"],
    ignores: ["coordinator/raft/sim/**/*.test.ts", "coordinator/raft/sim/simulation-suite.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Simulated time comes from the virtual clock." },
        { object: "Math", property: "random", message: "Randomness comes from the seed (rng.ts)." },
      ],
      "no-restricted-globals": [
        "error",
        { name: "performance", message: "Simulated time comes from the virtual clock." },
        { name: "setTimeout", message: "Simulated time comes from the virtual clock." },
        { name: "setInterval", message: "Simulated time comes from the virtual clock." },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "NewExpression[callee.name='Date']",
          message: "Simulated time comes from the virtual clock.",
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
);
