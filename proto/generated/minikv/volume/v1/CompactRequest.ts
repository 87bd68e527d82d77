// Original file: proto/volume.proto


export interface CompactRequest {
  'has_shard'?: (boolean);
  'shard'?: (number);
}

export interface CompactRequest__Output {
  'has_shard': (boolean);
  'shard': (number);
}
