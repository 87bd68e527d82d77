// Original file: proto/coordinator.proto

import type { VolumeInfo as _minikv_coordinator_v1_VolumeInfo, VolumeInfo__Output as _minikv_coordinator_v1_VolumeInfo__Output } from '../../../minikv/coordinator/v1/VolumeInfo.js';

export interface RegisterRequest {
  'volume'?: (_minikv_coordinator_v1_VolumeInfo | null);
}

export interface RegisterRequest__Output {
  'volume': (_minikv_coordinator_v1_VolumeInfo__Output | null);
}
