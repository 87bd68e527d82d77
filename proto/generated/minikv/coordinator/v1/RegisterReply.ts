// Original file: proto/coordinator.proto


export interface RegisterReply {
  'coordinator_id'?: (string);
  'heartbeat_interval_ms'?: (number);
}

export interface RegisterReply__Output {
  'coordinator_id': (string);
  'heartbeat_interval_ms': (number);
}
