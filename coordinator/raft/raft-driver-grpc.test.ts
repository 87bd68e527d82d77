import { describeDriverScenarios } from "./driver-scenarios.js";

// The same scenarios over real gRPC on 127.0.0.1 ephemeral ports, LevelDB and snapshot
// files in temp directories.
describeDriverScenarios("grpc");
