// Original file: proto/coordinator.proto

import type { Long } from '@grpc/proto-loader';

// Original file: proto/coordinator.proto

export const _minikv_coordinator_v1_ResolveTransactionReply_Outcome = {
  UNKNOWN: 'UNKNOWN',
  COMMITTED: 'COMMITTED',
  ABORTED: 'ABORTED',
} as const;

export type _minikv_coordinator_v1_ResolveTransactionReply_Outcome =
  | 'UNKNOWN'
  | 0
  | 'COMMITTED'
  | 1
  | 'ABORTED'
  | 2

export type _minikv_coordinator_v1_ResolveTransactionReply_Outcome__Output = typeof _minikv_coordinator_v1_ResolveTransactionReply_Outcome[keyof typeof _minikv_coordinator_v1_ResolveTransactionReply_Outcome]

export interface ResolveTransactionReply {
  'outcome'?: (_minikv_coordinator_v1_ResolveTransactionReply_Outcome);
  'version'?: (number | string | Long);
}

export interface ResolveTransactionReply__Output {
  'outcome': (_minikv_coordinator_v1_ResolveTransactionReply_Outcome__Output);
  'version': (string);
}
