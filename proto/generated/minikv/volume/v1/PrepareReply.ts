// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface PrepareReply {
  'txid'?: (string);
  'volume_id'?: (string);
  'size'?: (number | string | Long);
  'crc32c'?: (number);
}

export interface PrepareReply__Output {
  'txid': (string);
  'volume_id': (string);
  'size': (string);
  'crc32c': (number);
}
