// Original file: proto/volume.proto

import type { PipeRequest as _minikv_volume_v1_PipeRequest, PipeRequest__Output as _minikv_volume_v1_PipeRequest__Output } from '../../../minikv/volume/v1/PipeRequest.js';

export interface PipeRequests {
  'requests'?: (_minikv_volume_v1_PipeRequest)[];
}

export interface PipeRequests__Output {
  'requests': (_minikv_volume_v1_PipeRequest__Output)[];
}
