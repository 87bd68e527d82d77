// Original file: proto/volume.proto


export interface ListKeysRequest {
  'shard'?: (number);
  'all_shards'?: (boolean);
  'include_prepared'?: (boolean);
}

export interface ListKeysRequest__Output {
  'shard': (number);
  'all_shards': (boolean);
  'include_prepared': (boolean);
}
