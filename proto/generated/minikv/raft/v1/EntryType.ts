// Original file: proto/raft.proto

export const EntryType = {
  NORMAL: 'NORMAL',
  CONF_CHANGE: 'CONF_CHANGE',
} as const;

export type EntryType =
  | 'NORMAL'
  | 0
  | 'CONF_CHANGE'
  | 1

export type EntryType__Output = typeof EntryType[keyof typeof EntryType]
