// Original file: proto/volume.proto

import type { PipeError as _minikv_volume_v1_PipeError, PipeError__Output as _minikv_volume_v1_PipeError__Output } from '../../../minikv/volume/v1/PipeError.js';
import type { PrepareReply as _minikv_volume_v1_PrepareReply, PrepareReply__Output as _minikv_volume_v1_PrepareReply__Output } from '../../../minikv/volume/v1/PrepareReply.js';
import type { CommitReply as _minikv_volume_v1_CommitReply, CommitReply__Output as _minikv_volume_v1_CommitReply__Output } from '../../../minikv/volume/v1/CommitReply.js';
import type { AbortReply as _minikv_volume_v1_AbortReply, AbortReply__Output as _minikv_volume_v1_AbortReply__Output } from '../../../minikv/volume/v1/AbortReply.js';
import type { DeleteReply as _minikv_volume_v1_DeleteReply, DeleteReply__Output as _minikv_volume_v1_DeleteReply__Output } from '../../../minikv/volume/v1/DeleteReply.js';
import type { ReadReply as _minikv_volume_v1_ReadReply, ReadReply__Output as _minikv_volume_v1_ReadReply__Output } from '../../../minikv/volume/v1/ReadReply.js';

export interface PipeReply {
  'id'?: (number);
  'error'?: (_minikv_volume_v1_PipeError | null);
  'prepare'?: (_minikv_volume_v1_PrepareReply | null);
  'commit'?: (_minikv_volume_v1_CommitReply | null);
  'abort'?: (_minikv_volume_v1_AbortReply | null);
  'delete'?: (_minikv_volume_v1_DeleteReply | null);
  'read'?: (_minikv_volume_v1_ReadReply | null);
  'result'?: "error"|"prepare"|"commit"|"abort"|"delete"|"read";
}

export interface PipeReply__Output {
  'id': (number);
  'error'?: (_minikv_volume_v1_PipeError__Output | null);
  'prepare'?: (_minikv_volume_v1_PrepareReply__Output | null);
  'commit'?: (_minikv_volume_v1_CommitReply__Output | null);
  'abort'?: (_minikv_volume_v1_AbortReply__Output | null);
  'delete'?: (_minikv_volume_v1_DeleteReply__Output | null);
  'read'?: (_minikv_volume_v1_ReadReply__Output | null);
  'result'?: "error"|"prepare"|"commit"|"abort"|"delete"|"read";
}
