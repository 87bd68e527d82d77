// Original file: proto/volume.proto


export interface CommitReply {
}

export interface CommitReply__Output {
}
