// Original file: proto/volume.proto

import type { PrepareHeader as _minikv_volume_v1_PrepareHeader, PrepareHeader__Output as _minikv_volume_v1_PrepareHeader__Output } from '../../../minikv/volume/v1/PrepareHeader.js';

export interface PrepareRequest {
  'header'?: (_minikv_volume_v1_PrepareHeader | null);
  'chunk'?: (Buffer | Uint8Array | string);
  'part'?: "header"|"chunk";
}

export interface PrepareRequest__Output {
  'header'?: (_minikv_volume_v1_PrepareHeader__Output | null);
  'chunk'?: (Buffer);
  'part'?: "header"|"chunk";
}
