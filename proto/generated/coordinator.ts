import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { HeartbeatReply as _minikv_coordinator_v1_HeartbeatReply, HeartbeatReply__Output as _minikv_coordinator_v1_HeartbeatReply__Output } from './minikv/coordinator/v1/HeartbeatReply.js';
import type { HeartbeatRequest as _minikv_coordinator_v1_HeartbeatRequest, HeartbeatRequest__Output as _minikv_coordinator_v1_HeartbeatRequest__Output } from './minikv/coordinator/v1/HeartbeatRequest.js';
import type { RegisterReply as _minikv_coordinator_v1_RegisterReply, RegisterReply__Output as _minikv_coordinator_v1_RegisterReply__Output } from './minikv/coordinator/v1/RegisterReply.js';
import type { RegisterRequest as _minikv_coordinator_v1_RegisterRequest, RegisterRequest__Output as _minikv_coordinator_v1_RegisterRequest__Output } from './minikv/coordinator/v1/RegisterRequest.js';
import type { ResolveTransactionReply as _minikv_coordinator_v1_ResolveTransactionReply, ResolveTransactionReply__Output as _minikv_coordinator_v1_ResolveTransactionReply__Output } from './minikv/coordinator/v1/ResolveTransactionReply.js';
import type { ResolveTransactionRequest as _minikv_coordinator_v1_ResolveTransactionRequest, ResolveTransactionRequest__Output as _minikv_coordinator_v1_ResolveTransactionRequest__Output } from './minikv/coordinator/v1/ResolveTransactionRequest.js';
import type { VolumeControlClient as _minikv_coordinator_v1_VolumeControlClient, VolumeControlDefinition as _minikv_coordinator_v1_VolumeControlDefinition } from './minikv/coordinator/v1/VolumeControl.js';
import type { VolumeInfo as _minikv_coordinator_v1_VolumeInfo, VolumeInfo__Output as _minikv_coordinator_v1_VolumeInfo__Output } from './minikv/coordinator/v1/VolumeInfo.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  minikv: {
    coordinator: {
      v1: {
        HeartbeatReply: MessageTypeDefinition<_minikv_coordinator_v1_HeartbeatReply, _minikv_coordinator_v1_HeartbeatReply__Output>
        HeartbeatRequest: MessageTypeDefinition<_minikv_coordinator_v1_HeartbeatRequest, _minikv_coordinator_v1_HeartbeatRequest__Output>
        RegisterReply: MessageTypeDefinition<_minikv_coordinator_v1_RegisterReply, _minikv_coordinator_v1_RegisterReply__Output>
        RegisterRequest: MessageTypeDefinition<_minikv_coordinator_v1_RegisterRequest, _minikv_coordinator_v1_RegisterRequest__Output>
        ResolveTransactionReply: MessageTypeDefinition<_minikv_coordinator_v1_ResolveTransactionReply, _minikv_coordinator_v1_ResolveTransactionReply__Output>
        ResolveTransactionRequest: MessageTypeDefinition<_minikv_coordinator_v1_ResolveTransactionRequest, _minikv_coordinator_v1_ResolveTransactionRequest__Output>
        VolumeControl: SubtypeConstructor<typeof grpc.Client, _minikv_coordinator_v1_VolumeControlClient> & { service: _minikv_coordinator_v1_VolumeControlDefinition }
        VolumeInfo: MessageTypeDefinition<_minikv_coordinator_v1_VolumeInfo, _minikv_coordinator_v1_VolumeInfo__Output>
      }
    }
  }
}

