import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { CoordinatorPeerClient as _minikv_coordinator_v1_CoordinatorPeerClient, CoordinatorPeerDefinition as _minikv_coordinator_v1_CoordinatorPeerDefinition } from './minikv/coordinator/v1/CoordinatorPeer.js';
import type { LiveVolume as _minikv_coordinator_v1_LiveVolume, LiveVolume__Output as _minikv_coordinator_v1_LiveVolume__Output } from './minikv/coordinator/v1/LiveVolume.js';
import type { PeerStatusReply as _minikv_coordinator_v1_PeerStatusReply, PeerStatusReply__Output as _minikv_coordinator_v1_PeerStatusReply__Output } from './minikv/coordinator/v1/PeerStatusReply.js';
import type { PeerStatusRequest as _minikv_coordinator_v1_PeerStatusRequest, PeerStatusRequest__Output as _minikv_coordinator_v1_PeerStatusRequest__Output } from './minikv/coordinator/v1/PeerStatusRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  minikv: {
    coordinator: {
      v1: {
        CoordinatorPeer: SubtypeConstructor<typeof grpc.Client, _minikv_coordinator_v1_CoordinatorPeerClient> & { service: _minikv_coordinator_v1_CoordinatorPeerDefinition }
        LiveVolume: MessageTypeDefinition<_minikv_coordinator_v1_LiveVolume, _minikv_coordinator_v1_LiveVolume__Output>
        PeerStatusReply: MessageTypeDefinition<_minikv_coordinator_v1_PeerStatusReply, _minikv_coordinator_v1_PeerStatusReply__Output>
        PeerStatusRequest: MessageTypeDefinition<_minikv_coordinator_v1_PeerStatusRequest, _minikv_coordinator_v1_PeerStatusRequest__Output>
      }
    }
  }
}

