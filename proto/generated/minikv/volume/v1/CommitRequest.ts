// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface CommitRequest {
  'txid'?: (string);
  'version'?: (number | string | Long);
}

export interface CommitRequest__Output {
  'txid': (string);
  'version': (string);
}
