// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface HealthReply {
  'volume_id'?: (string);
  'state'?: (string);
  'capacity_bytes'?: (number | string | Long);
  'used_bytes'?: (number | string | Long);
  'keys'?: (number | string | Long);
}

export interface HealthReply__Output {
  'volume_id': (string);
  'state': (string);
  'capacity_bytes': (string);
  'used_bytes': (string);
  'keys': (string);
}
