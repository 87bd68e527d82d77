// Original file: /work/main/proto/volume.proto


export interface AbortReply {
}

export interface AbortReply__Output {
}
