// Original file: proto/coordinator-peer.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { PeerStatusReply as _minikv_coordinator_v1_PeerStatusReply, PeerStatusReply__Output as _minikv_coordinator_v1_PeerStatusReply__Output } from '../../../minikv/coordinator/v1/PeerStatusReply.js';
import type { PeerStatusRequest as _minikv_coordinator_v1_PeerStatusRequest, PeerStatusRequest__Output as _minikv_coordinator_v1_PeerStatusRequest__Output } from '../../../minikv/coordinator/v1/PeerStatusRequest.js';

export interface CoordinatorPeerClient extends grpc.Client {
  Status(argument: _minikv_coordinator_v1_PeerStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_PeerStatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _minikv_coordinator_v1_PeerStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_coordinator_v1_PeerStatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _minikv_coordinator_v1_PeerStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_PeerStatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _minikv_coordinator_v1_PeerStatusRequest, callback: grpc.requestCallback<_minikv_coordinator_v1_PeerStatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _minikv_coordinator_v1_PeerStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_PeerStatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _minikv_coordinator_v1_PeerStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_coordinator_v1_PeerStatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _minikv_coordinator_v1_PeerStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_PeerStatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _minikv_coordinator_v1_PeerStatusRequest, callback: grpc.requestCallback<_minikv_coordinator_v1_PeerStatusReply__Output>): grpc.ClientUnaryCall;
  
}

export interface CoordinatorPeerHandlers extends grpc.UntypedServiceImplementation {
  Status: grpc.handleUnaryCall<_minikv_coordinator_v1_PeerStatusRequest__Output, _minikv_coordinator_v1_PeerStatusReply>;
  
}

export interface CoordinatorPeerDefinition extends grpc.ServiceDefinition {
  Status: MethodDefinition<_minikv_coordinator_v1_PeerStatusRequest, _minikv_coordinator_v1_PeerStatusReply, _minikv_coordinator_v1_PeerStatusRequest__Output, _minikv_coordinator_v1_PeerStatusReply__Output>
}
