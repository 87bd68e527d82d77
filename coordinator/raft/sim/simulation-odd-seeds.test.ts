import { describeSeededRuns } from "./simulation-suite.js";

// Odd seeds of the seeded simulation (see simulation-suite.ts); even ones run beside it.
describeSeededRuns(1);
