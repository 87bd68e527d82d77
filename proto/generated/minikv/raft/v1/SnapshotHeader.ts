// Original file: proto/raft.proto

import type { RaftMessage as _minikv_raft_v1_RaftMessage, RaftMessage__Output as _minikv_raft_v1_RaftMessage__Output } from '../../../minikv/raft/v1/RaftMessage.js';

export interface SnapshotHeader {
  'message'?: (_minikv_raft_v1_RaftMessage | null);
  'peer_addresses'?: ({[key: string]: string});
}

export interface SnapshotHeader__Output {
  'message': (_minikv_raft_v1_RaftMessage__Output | null);
  'peer_addresses': ({[key: string]: string});
}
