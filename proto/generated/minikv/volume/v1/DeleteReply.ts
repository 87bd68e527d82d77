// Original file: proto/volume.proto


export interface DeleteReply {
  'existed'?: (boolean);
}

export interface DeleteReply__Output {
  'existed': (boolean);
}
