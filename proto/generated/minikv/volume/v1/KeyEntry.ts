// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface KeyEntry {
  'key'?: (string);
  'size'?: (number | string | Long);
  'crc32c'?: (number);
  'version'?: (number | string | Long);
  'prepared'?: (boolean);
  'txid'?: (string);
  'created_at_ms'?: (number | string | Long);
}

export interface KeyEntry__Output {
  'key': (string);
  'size': (string);
  'crc32c': (number);
  'version': (string);
  'prepared': (boolean);
  'txid': (string);
  'created_at_ms': (string);
}
