// Original file: proto/coordinator-peer.proto

import type { LiveVolume as _minikv_coordinator_v1_LiveVolume, LiveVolume__Output as _minikv_coordinator_v1_LiveVolume__Output } from '../../../minikv/coordinator/v1/LiveVolume.js';
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
  'live_volumes'?: (_minikv_coordinator_v1_LiveVolume)[];
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
  'live_volumes': (_minikv_coordinator_v1_LiveVolume__Output)[];
}
