// Original file: proto/volume.proto


export interface ReadReply {
  'chunk'?: (Buffer | Uint8Array | string);
}

export interface ReadReply__Output {
  'chunk': (Buffer);
}
