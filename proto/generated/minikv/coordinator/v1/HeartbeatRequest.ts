// Original file: proto/coordinator.proto

import type { VolumeInfo as _minikv_coordinator_v1_VolumeInfo, VolumeInfo__Output as _minikv_coordinator_v1_VolumeInfo__Output } from '../../../minikv/coordinator/v1/VolumeInfo.js';

export interface HeartbeatRequest {
  'volume'?: (_minikv_coordinator_v1_VolumeInfo | null);
}

export interface HeartbeatRequest__Output {
  'volume': (_minikv_coordinator_v1_VolumeInfo__Output | null);
}
