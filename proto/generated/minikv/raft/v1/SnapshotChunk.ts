// Original file: proto/raft.proto

import type { SnapshotHeader as _minikv_raft_v1_SnapshotHeader, SnapshotHeader__Output as _minikv_raft_v1_SnapshotHeader__Output } from '../../../minikv/raft/v1/SnapshotHeader.js';

export interface SnapshotChunk {
  'header'?: (_minikv_raft_v1_SnapshotHeader | null);
  'data'?: (Buffer | Uint8Array | string);
  'part'?: "header"|"data";
}

export interface SnapshotChunk__Output {
  'header'?: (_minikv_raft_v1_SnapshotHeader__Output | null);
  'data'?: (Buffer);
  'part'?: "header"|"data";
}
