// Original file: proto/volume.proto

import type { Long } from '@grpc/proto-loader';

export interface ReadRequest {
  'key'?: (string);
  'offset'?: (number | string | Long);
  'length'?: (number | string | Long);
  'version'?: (number | string | Long);
}

export interface ReadRequest__Output {
  'key': (string);
  'offset': (string);
  'length': (string);
  'version': (string);
}
