// Original file: proto/volume.proto

import type { PrepareHeader as _minikv_volume_v1_PrepareHeader, PrepareHeader__Output as _minikv_volume_v1_PrepareHeader__Output } from '../../../minikv/volume/v1/PrepareHeader.js';

export interface PipePrepare {
  'header'?: (_minikv_volume_v1_PrepareHeader | null);
  'value'?: (Buffer | Uint8Array | string);
}

export interface PipePrepare__Output {
  'header': (_minikv_volume_v1_PrepareHeader__Output | null);
  'value': (Buffer);
}
