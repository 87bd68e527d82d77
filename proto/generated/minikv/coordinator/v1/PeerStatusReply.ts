// Original file: proto/coordinator-peer.proto

import type { Long } from '@grpc/proto-loader';

export interface PeerStatusReply {
  'id'?: (string);
  'role'?: (string);
  'term'?: (number | string | Long);
  'commit_index'?: (number | string | Long);
  'applied_index'?: (number | string | Long);
  'leader_id'?: (string);
  'http_url'?: (string);
  'grpc_address'?: (string);
}

export interface PeerStatusReply__Output {
  'id': (string);
  'role': (string);
  'term': (string);
  'commit_index': (string);
  'applied_index': (string);
  'leader_id': (string);
  'http_url': (string);
  'grpc_address': (string);
}
