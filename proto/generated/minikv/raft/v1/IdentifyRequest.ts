// Original file: proto/raft.proto


export interface IdentifyRequest {
  'from_id'?: (string);
}

export interface IdentifyRequest__Output {
  'from_id': (string);
}
