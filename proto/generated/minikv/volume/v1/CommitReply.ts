// Original file: /work/main/proto/volume.proto


export interface CommitReply {
}

export interface CommitReply__Output {
}
