// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface DeleteRequest {
  'key'?: (string);
  'version'?: (number | string | Long);
}

export interface DeleteRequest__Output {
  'key': (string);
  'version': (string);
}
