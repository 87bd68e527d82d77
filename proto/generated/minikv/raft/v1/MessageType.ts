// Original file: proto/raft.proto

export const MessageType = {
  MESSAGE_TYPE_UNSPECIFIED: 'MESSAGE_TYPE_UNSPECIFIED',
  PRE_VOTE: 'PRE_VOTE',
  PRE_VOTE_RESP: 'PRE_VOTE_RESP',
  VOTE: 'VOTE',
  VOTE_RESP: 'VOTE_RESP',
  APPEND: 'APPEND',
  APPEND_RESP: 'APPEND_RESP',
  HEARTBEAT: 'HEARTBEAT',
  HEARTBEAT_RESP: 'HEARTBEAT_RESP',
  SNAPSHOT: 'SNAPSHOT',
  TIMEOUT_NOW: 'TIMEOUT_NOW',
  PROPOSE: 'PROPOSE',
  READ_INDEX: 'READ_INDEX',
  READ_INDEX_RESP: 'READ_INDEX_RESP',
  TRANSFER_LEADER: 'TRANSFER_LEADER',
} as const;

export type MessageType =
  | 'MESSAGE_TYPE_UNSPECIFIED'
  | 0
  | 'PRE_VOTE'
  | 1
  | 'PRE_VOTE_RESP'
  | 2
  | 'VOTE'
  | 3
  | 'VOTE_RESP'
  | 4
  | 'APPEND'
  | 5
  | 'APPEND_RESP'
  | 6
  | 'HEARTBEAT'
  | 7
  | 'HEARTBEAT_RESP'
  | 8
  | 'SNAPSHOT'
  | 9
  | 'TIMEOUT_NOW'
  | 10
  | 'PROPOSE'
  | 11
  | 'READ_INDEX'
  | 12
  | 'READ_INDEX_RESP'
  | 13
  | 'TRANSFER_LEADER'
  | 14

export type MessageType__Output = typeof MessageType[keyof typeof MessageType]
