// Original file: /work/main/proto/raft.proto


export interface Ack {
}

export interface Ack__Output {
}
