// Original file: proto/volume.proto

import type { PipeReply as _minikv_volume_v1_PipeReply, PipeReply__Output as _minikv_volume_v1_PipeReply__Output } from '../../../minikv/volume/v1/PipeReply.js';

export interface PipeReplies {
  'replies'?: (_minikv_volume_v1_PipeReply)[];
}

export interface PipeReplies__Output {
  'replies': (_minikv_volume_v1_PipeReply__Output)[];
}
