// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface StatReply {
  'key'?: (string);
  'size'?: (number | string | Long);
  'crc32c'?: (number);
  'version'?: (number | string | Long);
  'content_type'?: (string);
  'created_at_ms'?: (number | string | Long);
}

export interface StatReply__Output {
  'key': (string);
  'size': (string);
  'crc32c': (number);
  'version': (string);
  'content_type': (string);
  'created_at_ms': (string);
}
