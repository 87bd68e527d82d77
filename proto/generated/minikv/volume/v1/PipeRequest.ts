// Original file: proto/volume.proto

import type { PipePrepare as _minikv_volume_v1_PipePrepare, PipePrepare__Output as _minikv_volume_v1_PipePrepare__Output } from '../../../minikv/volume/v1/PipePrepare.js';
import type { CommitRequest as _minikv_volume_v1_CommitRequest, CommitRequest__Output as _minikv_volume_v1_CommitRequest__Output } from '../../../minikv/volume/v1/CommitRequest.js';
import type { AbortRequest as _minikv_volume_v1_AbortRequest, AbortRequest__Output as _minikv_volume_v1_AbortRequest__Output } from '../../../minikv/volume/v1/AbortRequest.js';
import type { DeleteRequest as _minikv_volume_v1_DeleteRequest, DeleteRequest__Output as _minikv_volume_v1_DeleteRequest__Output } from '../../../minikv/volume/v1/DeleteRequest.js';
import type { ReadRequest as _minikv_volume_v1_ReadRequest, ReadRequest__Output as _minikv_volume_v1_ReadRequest__Output } from '../../../minikv/volume/v1/ReadRequest.js';

export interface PipeRequest {
  'id'?: (number);
  'prepare'?: (_minikv_volume_v1_PipePrepare | null);
  'commit'?: (_minikv_volume_v1_CommitRequest | null);
  'abort'?: (_minikv_volume_v1_AbortRequest | null);
  'delete'?: (_minikv_volume_v1_DeleteRequest | null);
  'read'?: (_minikv_volume_v1_ReadRequest | null);
  'call'?: "prepare"|"commit"|"abort"|"delete"|"read";
}

export interface PipeRequest__Output {
  'id': (number);
  'prepare'?: (_minikv_volume_v1_PipePrepare__Output | null);
  'commit'?: (_minikv_volume_v1_CommitRequest__Output | null);
  'abort'?: (_minikv_volume_v1_AbortRequest__Output | null);
  'delete'?: (_minikv_volume_v1_DeleteRequest__Output | null);
  'read'?: (_minikv_volume_v1_ReadRequest__Output | null);
  'call'?: "prepare"|"commit"|"abort"|"delete"|"read";
}
