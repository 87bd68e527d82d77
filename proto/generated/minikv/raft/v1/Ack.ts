// Original file: proto/raft.proto


export interface Ack {
}

export interface Ack__Output {
}
