import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbortReply as _minikv_volume_v1_AbortReply, AbortReply__Output as _minikv_volume_v1_AbortReply__Output } from './minikv/volume/v1/AbortReply.js';
import type { AbortRequest as _minikv_volume_v1_AbortRequest, AbortRequest__Output as _minikv_volume_v1_AbortRequest__Output } from './minikv/volume/v1/AbortRequest.js';
import type { ChecksumReply as _minikv_volume_v1_ChecksumReply, ChecksumReply__Output as _minikv_volume_v1_ChecksumReply__Output } from './minikv/volume/v1/ChecksumReply.js';
import type { ChecksumRequest as _minikv_volume_v1_ChecksumRequest, ChecksumRequest__Output as _minikv_volume_v1_ChecksumRequest__Output } from './minikv/volume/v1/ChecksumRequest.js';
import type { CommitReply as _minikv_volume_v1_CommitReply, CommitReply__Output as _minikv_volume_v1_CommitReply__Output } from './minikv/volume/v1/CommitReply.js';
import type { CommitRequest as _minikv_volume_v1_CommitRequest, CommitRequest__Output as _minikv_volume_v1_CommitRequest__Output } from './minikv/volume/v1/CommitRequest.js';
import type { CompactReply as _minikv_volume_v1_CompactReply, CompactReply__Output as _minikv_volume_v1_CompactReply__Output } from './minikv/volume/v1/CompactReply.js';
import type { CompactRequest as _minikv_volume_v1_CompactRequest, CompactRequest__Output as _minikv_volume_v1_CompactRequest__Output } from './minikv/volume/v1/CompactRequest.js';
import type { DeleteReply as _minikv_volume_v1_DeleteReply, DeleteReply__Output as _minikv_volume_v1_DeleteReply__Output } from './minikv/volume/v1/DeleteReply.js';
import type { DeleteRequest as _minikv_volume_v1_DeleteRequest, DeleteRequest__Output as _minikv_volume_v1_DeleteRequest__Output } from './minikv/volume/v1/DeleteRequest.js';
import type { HealthReply as _minikv_volume_v1_HealthReply, HealthReply__Output as _minikv_volume_v1_HealthReply__Output } from './minikv/volume/v1/HealthReply.js';
import type { HealthRequest as _minikv_volume_v1_HealthRequest, HealthRequest__Output as _minikv_volume_v1_HealthRequest__Output } from './minikv/volume/v1/HealthRequest.js';
import type { KeyEntry as _minikv_volume_v1_KeyEntry, KeyEntry__Output as _minikv_volume_v1_KeyEntry__Output } from './minikv/volume/v1/KeyEntry.js';
import type { ListKeysReply as _minikv_volume_v1_ListKeysReply, ListKeysReply__Output as _minikv_volume_v1_ListKeysReply__Output } from './minikv/volume/v1/ListKeysReply.js';
import type { ListKeysRequest as _minikv_volume_v1_ListKeysRequest, ListKeysRequest__Output as _minikv_volume_v1_ListKeysRequest__Output } from './minikv/volume/v1/ListKeysRequest.js';
import type { PipeError as _minikv_volume_v1_PipeError, PipeError__Output as _minikv_volume_v1_PipeError__Output } from './minikv/volume/v1/PipeError.js';
import type { PipePrepare as _minikv_volume_v1_PipePrepare, PipePrepare__Output as _minikv_volume_v1_PipePrepare__Output } from './minikv/volume/v1/PipePrepare.js';
import type { PipeReplies as _minikv_volume_v1_PipeReplies, PipeReplies__Output as _minikv_volume_v1_PipeReplies__Output } from './minikv/volume/v1/PipeReplies.js';
import type { PipeReply as _minikv_volume_v1_PipeReply, PipeReply__Output as _minikv_volume_v1_PipeReply__Output } from './minikv/volume/v1/PipeReply.js';
import type { PipeRequest as _minikv_volume_v1_PipeRequest, PipeRequest__Output as _minikv_volume_v1_PipeRequest__Output } from './minikv/volume/v1/PipeRequest.js';
import type { PipeRequests as _minikv_volume_v1_PipeRequests, PipeRequests__Output as _minikv_volume_v1_PipeRequests__Output } from './minikv/volume/v1/PipeRequests.js';
import type { PrepareHeader as _minikv_volume_v1_PrepareHeader, PrepareHeader__Output as _minikv_volume_v1_PrepareHeader__Output } from './minikv/volume/v1/PrepareHeader.js';
import type { PrepareReply as _minikv_volume_v1_PrepareReply, PrepareReply__Output as _minikv_volume_v1_PrepareReply__Output } from './minikv/volume/v1/PrepareReply.js';
import type { PrepareRequest as _minikv_volume_v1_PrepareRequest, PrepareRequest__Output as _minikv_volume_v1_PrepareRequest__Output } from './minikv/volume/v1/PrepareRequest.js';
import type { ReadReply as _minikv_volume_v1_ReadReply, ReadReply__Output as _minikv_volume_v1_ReadReply__Output } from './minikv/volume/v1/ReadReply.js';
import type { ReadRequest as _minikv_volume_v1_ReadRequest, ReadRequest__Output as _minikv_volume_v1_ReadRequest__Output } from './minikv/volume/v1/ReadRequest.js';
import type { StatReply as _minikv_volume_v1_StatReply, StatReply__Output as _minikv_volume_v1_StatReply__Output } from './minikv/volume/v1/StatReply.js';
import type { StatRequest as _minikv_volume_v1_StatRequest, StatRequest__Output as _minikv_volume_v1_StatRequest__Output } from './minikv/volume/v1/StatRequest.js';
import type { VolumeClient as _minikv_volume_v1_VolumeClient, VolumeDefinition as _minikv_volume_v1_VolumeDefinition } from './minikv/volume/v1/Volume.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  minikv: {
    volume: {
      v1: {
        AbortReply: MessageTypeDefinition<_minikv_volume_v1_AbortReply, _minikv_volume_v1_AbortReply__Output>
        AbortRequest: MessageTypeDefinition<_minikv_volume_v1_AbortRequest, _minikv_volume_v1_AbortRequest__Output>
        ChecksumReply: MessageTypeDefinition<_minikv_volume_v1_ChecksumReply, _minikv_volume_v1_ChecksumReply__Output>
        ChecksumRequest: MessageTypeDefinition<_minikv_volume_v1_ChecksumRequest, _minikv_volume_v1_ChecksumRequest__Output>
        CommitReply: MessageTypeDefinition<_minikv_volume_v1_CommitReply, _minikv_volume_v1_CommitReply__Output>
        CommitRequest: MessageTypeDefinition<_minikv_volume_v1_CommitRequest, _minikv_volume_v1_CommitRequest__Output>
        CompactReply: MessageTypeDefinition<_minikv_volume_v1_CompactReply, _minikv_volume_v1_CompactReply__Output>
        CompactRequest: MessageTypeDefinition<_minikv_volume_v1_CompactRequest, _minikv_volume_v1_CompactRequest__Output>
        DeleteReply: MessageTypeDefinition<_minikv_volume_v1_DeleteReply, _minikv_volume_v1_DeleteReply__Output>
        DeleteRequest: MessageTypeDefinition<_minikv_volume_v1_DeleteRequest, _minikv_volume_v1_DeleteRequest__Output>
        HealthReply: MessageTypeDefinition<_minikv_volume_v1_HealthReply, _minikv_volume_v1_HealthReply__Output>
        HealthRequest: MessageTypeDefinition<_minikv_volume_v1_HealthRequest, _minikv_volume_v1_HealthRequest__Output>
        KeyEntry: MessageTypeDefinition<_minikv_volume_v1_KeyEntry, _minikv_volume_v1_KeyEntry__Output>
        ListKeysReply: MessageTypeDefinition<_minikv_volume_v1_ListKeysReply, _minikv_volume_v1_ListKeysReply__Output>
        ListKeysRequest: MessageTypeDefinition<_minikv_volume_v1_ListKeysRequest, _minikv_volume_v1_ListKeysRequest__Output>
        PipeError: MessageTypeDefinition<_minikv_volume_v1_PipeError, _minikv_volume_v1_PipeError__Output>
        PipePrepare: MessageTypeDefinition<_minikv_volume_v1_PipePrepare, _minikv_volume_v1_PipePrepare__Output>
        PipeReplies: MessageTypeDefinition<_minikv_volume_v1_PipeReplies, _minikv_volume_v1_PipeReplies__Output>
        PipeReply: MessageTypeDefinition<_minikv_volume_v1_PipeReply, _minikv_volume_v1_PipeReply__Output>
        PipeRequest: MessageTypeDefinition<_minikv_volume_v1_PipeRequest, _minikv_volume_v1_PipeRequest__Output>
        PipeRequests: MessageTypeDefinition<_minikv_volume_v1_PipeRequests, _minikv_volume_v1_PipeRequests__Output>
        PrepareHeader: MessageTypeDefinition<_minikv_volume_v1_PrepareHeader, _minikv_volume_v1_PrepareHeader__Output>
        PrepareReply: MessageTypeDefinition<_minikv_volume_v1_PrepareReply, _minikv_volume_v1_PrepareReply__Output>
        PrepareRequest: MessageTypeDefinition<_minikv_volume_v1_PrepareRequest, _minikv_volume_v1_PrepareRequest__Output>
        ReadReply: MessageTypeDefinition<_minikv_volume_v1_ReadReply, _minikv_volume_v1_ReadReply__Output>
        ReadRequest: MessageTypeDefinition<_minikv_volume_v1_ReadRequest, _minikv_volume_v1_ReadRequest__Output>
        StatReply: MessageTypeDefinition<_minikv_volume_v1_StatReply, _minikv_volume_v1_StatReply__Output>
        StatRequest: MessageTypeDefinition<_minikv_volume_v1_StatRequest, _minikv_volume_v1_StatRequest__Output>
        Volume: SubtypeConstructor<typeof grpc.Client, _minikv_volume_v1_VolumeClient> & { service: _minikv_volume_v1_VolumeDefinition }
      }
    }
  }
}

