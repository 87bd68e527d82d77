// Original file: proto/volume.proto

import type { KeyEntry as _minikv_volume_v1_KeyEntry, KeyEntry__Output as _minikv_volume_v1_KeyEntry__Output } from '../../../minikv/volume/v1/KeyEntry.js';

export interface ListKeysReply {
  'entries'?: (_minikv_volume_v1_KeyEntry)[];
}

export interface ListKeysReply__Output {
  'entries': (_minikv_volume_v1_KeyEntry__Output)[];
}
