// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface CompactReply {
  'segments_compacted'?: (number);
  'bytes_freed'?: (number | string | Long);
}

export interface CompactReply__Output {
  'segments_compacted': (number);
  'bytes_freed': (string);
}
