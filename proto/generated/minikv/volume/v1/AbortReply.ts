// Original file: proto/volume.proto


export interface AbortReply {
}

export interface AbortReply__Output {
}
