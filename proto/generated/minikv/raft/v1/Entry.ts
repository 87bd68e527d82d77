// Original file: proto/raft.proto

import type { EntryType as _minikv_raft_v1_EntryType, EntryType__Output as _minikv_raft_v1_EntryType__Output } from '../../../minikv/raft/v1/EntryType.js';
import type { Long } from '@grpc/proto-loader';

export interface Entry {
  'term'?: (number | string | Long);
  'index'?: (number | string | Long);
  'type'?: (_minikv_raft_v1_EntryType);
  'data'?: (Buffer | Uint8Array | string);
}

export interface Entry__Output {
  'term': (string);
  'index': (string);
  'type': (_minikv_raft_v1_EntryType__Output);
  'data': (Buffer);
}
