// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface PrepareHeader {
  'txid'?: (string);
  'key'?: (string);
  'size'?: (number | string | Long);
  'crc32c'?: (number);
  'content_type'?: (string);
  'crc32c_unknown'?: (boolean);
  'size_unknown'?: (boolean);
}

export interface PrepareHeader__Output {
  'txid': (string);
  'key': (string);
  'size': (string);
  'crc32c': (number);
  'content_type': (string);
  'crc32c_unknown': (boolean);
  'size_unknown': (boolean);
}
