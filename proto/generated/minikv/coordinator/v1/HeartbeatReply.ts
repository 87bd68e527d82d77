// Original file: proto/coordinator.proto


export interface HeartbeatReply {
}

export interface HeartbeatReply__Output {
}
