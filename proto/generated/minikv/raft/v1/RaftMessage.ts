// Original file: proto/raft.proto

import type { MessageType as _minikv_raft_v1_MessageType, MessageType__Output as _minikv_raft_v1_MessageType__Output } from '../../../minikv/raft/v1/MessageType.js';
import type { Entry as _minikv_raft_v1_Entry, Entry__Output as _minikv_raft_v1_Entry__Output } from '../../../minikv/raft/v1/Entry.js';
import type { SnapshotMeta as _minikv_raft_v1_SnapshotMeta, SnapshotMeta__Output as _minikv_raft_v1_SnapshotMeta__Output } from '../../../minikv/raft/v1/SnapshotMeta.js';
import type { Long } from '@grpc/proto-loader';

export interface RaftMessage {
  'type'?: (_minikv_raft_v1_MessageType);
  'from'?: (string);
  'to'?: (string);
  'term'?: (number | string | Long);
  'log_term'?: (number | string | Long);
  'index'?: (number | string | Long);
  'entries'?: (_minikv_raft_v1_Entry)[];
  'commit'?: (number | string | Long);
  'reject'?: (boolean);
  'reject_hint'?: (number | string | Long);
  'reject_term_hint'?: (number | string | Long);
  'snapshot'?: (_minikv_raft_v1_SnapshotMeta | null);
  'context'?: (Buffer | Uint8Array | string);
}

export interface RaftMessage__Output {
  'type': (_minikv_raft_v1_MessageType__Output);
  'from': (string);
  'to': (string);
  'term': (string);
  'log_term': (string);
  'index': (string);
  'entries': (_minikv_raft_v1_Entry__Output)[];
  'commit': (string);
  'reject': (boolean);
  'reject_hint': (string);
  'reject_term_hint': (string);
  'snapshot': (_minikv_raft_v1_SnapshotMeta__Output | null);
  'context': (Buffer);
}
