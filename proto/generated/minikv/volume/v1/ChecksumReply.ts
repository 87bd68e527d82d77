// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface ChecksumReply {
  'key'?: (string);
  'size'?: (number | string | Long);
  'crc32c'?: (number);
  'recorded_crc32c'?: (number);
  'version'?: (number | string | Long);
}

export interface ChecksumReply__Output {
  'key': (string);
  'size': (string);
  'crc32c': (number);
  'recorded_crc32c': (number);
  'version': (string);
}
