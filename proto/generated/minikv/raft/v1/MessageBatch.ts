// Original file: proto/raft.proto

import type { RaftMessage as _minikv_raft_v1_RaftMessage, RaftMessage__Output as _minikv_raft_v1_RaftMessage__Output } from '../../../minikv/raft/v1/RaftMessage.js';

export interface MessageBatch {
  'messages'?: (_minikv_raft_v1_RaftMessage)[];
  'from_address'?: (string);
}

export interface MessageBatch__Output {
  'messages': (_minikv_raft_v1_RaftMessage__Output)[];
  'from_address': (string);
}
