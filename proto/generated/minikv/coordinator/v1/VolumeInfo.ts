// Original file: proto/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface VolumeInfo {
  'volume_id'?: (string);
  'grpc_address'?: (string);
  'http_url'?: (string);
  'capacity_bytes'?: (number | string | Long);
  'used_bytes'?: (number | string | Long);
}

export interface VolumeInfo__Output {
  'volume_id': (string);
  'grpc_address': (string);
  'http_url': (string);
  'capacity_bytes': (string);
  'used_bytes': (string);
}
