// Original file: proto/coordinator-peer.proto

import type { Long } from '@grpc/proto-loader';

export interface LiveVolume {
  'id'?: (string);
  'capacity_bytes'?: (number | string | Long);
  'used_bytes'?: (number | string | Long);
}

export interface LiveVolume__Output {
  'id': (string);
  'capacity_bytes': (string);
  'used_bytes': (string);
}
