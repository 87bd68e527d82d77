// Original file: proto/volume.proto


export interface PrepareReply {
  'txid'?: (string);
  'volume_id'?: (string);
}

export interface PrepareReply__Output {
  'txid': (string);
  'volume_id': (string);
}
