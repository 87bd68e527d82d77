// Original file: proto/coordinator.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { HeartbeatReply as _minikv_coordinator_v1_HeartbeatReply, HeartbeatReply__Output as _minikv_coordinator_v1_HeartbeatReply__Output } from '../../../minikv/coordinator/v1/HeartbeatReply.js';
import type { HeartbeatRequest as _minikv_coordinator_v1_HeartbeatRequest, HeartbeatRequest__Output as _minikv_coordinator_v1_HeartbeatRequest__Output } from '../../../minikv/coordinator/v1/HeartbeatRequest.js';
import type { RegisterReply as _minikv_coordinator_v1_RegisterReply, RegisterReply__Output as _minikv_coordinator_v1_RegisterReply__Output } from '../../../minikv/coordinator/v1/RegisterReply.js';
import type { RegisterRequest as _minikv_coordinator_v1_RegisterRequest, RegisterRequest__Output as _minikv_coordinator_v1_RegisterRequest__Output } from '../../../minikv/coordinator/v1/RegisterRequest.js';
import type { ResolveTransactionReply as _minikv_coordinator_v1_ResolveTransactionReply, ResolveTransactionReply__Output as _minikv_coordinator_v1_ResolveTransactionReply__Output } from '../../../minikv/coordinator/v1/ResolveTransactionReply.js';
import type { ResolveTransactionRequest as _minikv_coordinator_v1_ResolveTransactionRequest, ResolveTransactionRequest__Output as _minikv_coordinator_v1_ResolveTransactionRequest__Output } from '../../../minikv/coordinator/v1/ResolveTransactionRequest.js';

export interface VolumeControlClient extends grpc.Client {
  Heartbeat(argument: _minikv_coordinator_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _minikv_coordinator_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_coordinator_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _minikv_coordinator_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _minikv_coordinator_v1_HeartbeatRequest, callback: grpc.requestCallback<_minikv_coordinator_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _minikv_coordinator_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _minikv_coordinator_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_coordinator_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _minikv_coordinator_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _minikv_coordinator_v1_HeartbeatRequest, callback: grpc.requestCallback<_minikv_coordinator_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  
  Register(argument: _minikv_coordinator_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _minikv_coordinator_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_coordinator_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _minikv_coordinator_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _minikv_coordinator_v1_RegisterRequest, callback: grpc.requestCallback<_minikv_coordinator_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _minikv_coordinator_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _minikv_coordinator_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_coordinator_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _minikv_coordinator_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _minikv_coordinator_v1_RegisterRequest, callback: grpc.requestCallback<_minikv_coordinator_v1_RegisterReply__Output>): grpc.ClientUnaryCall;
  
  ResolveTransaction(argument: _minikv_coordinator_v1_ResolveTransactionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_ResolveTransactionReply__Output>): grpc.ClientUnaryCall;
  ResolveTransaction(argument: _minikv_coordinator_v1_ResolveTransactionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_coordinator_v1_ResolveTransactionReply__Output>): grpc.ClientUnaryCall;
  ResolveTransaction(argument: _minikv_coordinator_v1_ResolveTransactionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_ResolveTransactionReply__Output>): grpc.ClientUnaryCall;
  ResolveTransaction(argument: _minikv_coordinator_v1_ResolveTransactionRequest, callback: grpc.requestCallback<_minikv_coordinator_v1_ResolveTransactionReply__Output>): grpc.ClientUnaryCall;
  resolveTransaction(argument: _minikv_coordinator_v1_ResolveTransactionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_ResolveTransactionReply__Output>): grpc.ClientUnaryCall;
  resolveTransaction(argument: _minikv_coordinator_v1_ResolveTransactionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_coordinator_v1_ResolveTransactionReply__Output>): grpc.ClientUnaryCall;
  resolveTransaction(argument: _minikv_coordinator_v1_ResolveTransactionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_coordinator_v1_ResolveTransactionReply__Output>): grpc.ClientUnaryCall;
  resolveTransaction(argument: _minikv_coordinator_v1_ResolveTransactionRequest, callback: grpc.requestCallback<_minikv_coordinator_v1_ResolveTransactionReply__Output>): grpc.ClientUnaryCall;
  
}

export interface VolumeControlHandlers extends grpc.UntypedServiceImplementation {
  Heartbeat: grpc.handleUnaryCall<_minikv_coordinator_v1_HeartbeatRequest__Output, _minikv_coordinator_v1_HeartbeatReply>;
  
  Register: grpc.handleUnaryCall<_minikv_coordinator_v1_RegisterRequest__Output, _minikv_coordinator_v1_RegisterReply>;
  
  ResolveTransaction: grpc.handleUnaryCall<_minikv_coordinator_v1_ResolveTransactionRequest__Output, _minikv_coordinator_v1_ResolveTransactionReply>;
  
}

export interface VolumeControlDefinition extends grpc.ServiceDefinition {
  Heartbeat: MethodDefinition<_minikv_coordinator_v1_HeartbeatRequest, _minikv_coordinator_v1_HeartbeatReply, _minikv_coordinator_v1_HeartbeatRequest__Output, _minikv_coordinator_v1_HeartbeatReply__Output>
  Register: MethodDefinition<_minikv_coordinator_v1_RegisterRequest, _minikv_coordinator_v1_RegisterReply, _minikv_coordinator_v1_RegisterRequest__Output, _minikv_coordinator_v1_RegisterReply__Output>
  ResolveTransaction: MethodDefinition<_minikv_coordinator_v1_ResolveTransactionRequest, _minikv_coordinator_v1_ResolveTransactionReply, _minikv_coordinator_v1_ResolveTransactionRequest__Output, _minikv_coordinator_v1_ResolveTransactionReply__Output>
}
