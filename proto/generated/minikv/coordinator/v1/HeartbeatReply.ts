// Original file: /work/main/proto/coordinator.proto


export interface HeartbeatReply {
}

export interface HeartbeatReply__Output {
}
