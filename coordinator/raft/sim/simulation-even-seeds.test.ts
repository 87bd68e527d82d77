import { describeSeededRuns } from "./simulation-suite.js";

// Even seeds of the seeded simulation (see simulation-suite.ts); odd ones run beside it.
describeSeededRuns(0);
