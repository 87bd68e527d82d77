// Original file: proto/raft.proto


export interface IdentifyReply {
  'node_id'?: (string);
}

export interface IdentifyReply__Output {
  'node_id': (string);
}
