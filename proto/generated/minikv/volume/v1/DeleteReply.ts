// Original file: /work/main/proto/volume.proto


export interface DeleteReply {
  'existed'?: (boolean);
}

export interface DeleteReply__Output {
  'existed': (boolean);
}
