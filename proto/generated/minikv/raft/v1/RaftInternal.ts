// Original file: proto/raft.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Ack as _minikv_raft_v1_Ack, Ack__Output as _minikv_raft_v1_Ack__Output } from '../../../minikv/raft/v1/Ack.js';
import type { IdentifyReply as _minikv_raft_v1_IdentifyReply, IdentifyReply__Output as _minikv_raft_v1_IdentifyReply__Output } from '../../../minikv/raft/v1/IdentifyReply.js';
import type { IdentifyRequest as _minikv_raft_v1_IdentifyRequest, IdentifyRequest__Output as _minikv_raft_v1_IdentifyRequest__Output } from '../../../minikv/raft/v1/IdentifyRequest.js';
import type { MessageBatch as _minikv_raft_v1_MessageBatch, MessageBatch__Output as _minikv_raft_v1_MessageBatch__Output } from '../../../minikv/raft/v1/MessageBatch.js';
import type { SnapshotChunk as _minikv_raft_v1_SnapshotChunk, SnapshotChunk__Output as _minikv_raft_v1_SnapshotChunk__Output } from '../../../minikv/raft/v1/SnapshotChunk.js';

export interface RaftInternalClient extends grpc.Client {
  AppendEntries(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  AppendEntries(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  AppendEntries(argument: _minikv_raft_v1_MessageBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  AppendEntries(argument: _minikv_raft_v1_MessageBatch, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  appendEntries(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  appendEntries(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  appendEntries(argument: _minikv_raft_v1_MessageBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  appendEntries(argument: _minikv_raft_v1_MessageBatch, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  Identify(argument: _minikv_raft_v1_IdentifyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_IdentifyReply__Output>): grpc.ClientUnaryCall;
  Identify(argument: _minikv_raft_v1_IdentifyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_IdentifyReply__Output>): grpc.ClientUnaryCall;
  Identify(argument: _minikv_raft_v1_IdentifyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_IdentifyReply__Output>): grpc.ClientUnaryCall;
  Identify(argument: _minikv_raft_v1_IdentifyRequest, callback: grpc.requestCallback<_minikv_raft_v1_IdentifyReply__Output>): grpc.ClientUnaryCall;
  identify(argument: _minikv_raft_v1_IdentifyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_IdentifyReply__Output>): grpc.ClientUnaryCall;
  identify(argument: _minikv_raft_v1_IdentifyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_IdentifyReply__Output>): grpc.ClientUnaryCall;
  identify(argument: _minikv_raft_v1_IdentifyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_IdentifyReply__Output>): grpc.ClientUnaryCall;
  identify(argument: _minikv_raft_v1_IdentifyRequest, callback: grpc.requestCallback<_minikv_raft_v1_IdentifyReply__Output>): grpc.ClientUnaryCall;
  
  InstallSnapshot(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_SnapshotChunk>;
  InstallSnapshot(metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_SnapshotChunk>;
  InstallSnapshot(options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_SnapshotChunk>;
  InstallSnapshot(callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_SnapshotChunk>;
  installSnapshot(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_SnapshotChunk>;
  installSnapshot(metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_SnapshotChunk>;
  installSnapshot(options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_SnapshotChunk>;
  installSnapshot(callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_SnapshotChunk>;
  
  RequestVote(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  RequestVote(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  RequestVote(argument: _minikv_raft_v1_MessageBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  RequestVote(argument: _minikv_raft_v1_MessageBatch, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  requestVote(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  requestVote(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  requestVote(argument: _minikv_raft_v1_MessageBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  requestVote(argument: _minikv_raft_v1_MessageBatch, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  Send(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  Send(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  Send(argument: _minikv_raft_v1_MessageBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  Send(argument: _minikv_raft_v1_MessageBatch, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  send(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  send(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  send(argument: _minikv_raft_v1_MessageBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  send(argument: _minikv_raft_v1_MessageBatch, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  Stream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_MessageBatch>;
  Stream(metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_MessageBatch>;
  Stream(options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_MessageBatch>;
  Stream(callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_MessageBatch>;
  stream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_MessageBatch>;
  stream(metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_MessageBatch>;
  stream(options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_MessageBatch>;
  stream(callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientWritableStream<_minikv_raft_v1_MessageBatch>;
  
  TimeoutNow(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  TimeoutNow(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  TimeoutNow(argument: _minikv_raft_v1_MessageBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  TimeoutNow(argument: _minikv_raft_v1_MessageBatch, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  timeoutNow(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  timeoutNow(argument: _minikv_raft_v1_MessageBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  timeoutNow(argument: _minikv_raft_v1_MessageBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  timeoutNow(argument: _minikv_raft_v1_MessageBatch, callback: grpc.requestCallback<_minikv_raft_v1_Ack__Output>): grpc.ClientUnaryCall;
  
}

export interface RaftInternalHandlers extends grpc.UntypedServiceImplementation {
  AppendEntries: grpc.handleUnaryCall<_minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack>;
  
  Identify: grpc.handleUnaryCall<_minikv_raft_v1_IdentifyRequest__Output, _minikv_raft_v1_IdentifyReply>;
  
  InstallSnapshot: grpc.handleClientStreamingCall<_minikv_raft_v1_SnapshotChunk__Output, _minikv_raft_v1_Ack>;
  
  RequestVote: grpc.handleUnaryCall<_minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack>;
  
  Send: grpc.handleUnaryCall<_minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack>;
  
  Stream: grpc.handleClientStreamingCall<_minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack>;
  
  TimeoutNow: grpc.handleUnaryCall<_minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack>;
  
}

export interface RaftInternalDefinition extends grpc.ServiceDefinition {
  AppendEntries: MethodDefinition<_minikv_raft_v1_MessageBatch, _minikv_raft_v1_Ack, _minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack__Output>
  Identify: MethodDefinition<_minikv_raft_v1_IdentifyRequest, _minikv_raft_v1_IdentifyReply, _minikv_raft_v1_IdentifyRequest__Output, _minikv_raft_v1_IdentifyReply__Output>
  InstallSnapshot: MethodDefinition<_minikv_raft_v1_SnapshotChunk, _minikv_raft_v1_Ack, _minikv_raft_v1_SnapshotChunk__Output, _minikv_raft_v1_Ack__Output>
  RequestVote: MethodDefinition<_minikv_raft_v1_MessageBatch, _minikv_raft_v1_Ack, _minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack__Output>
  Send: MethodDefinition<_minikv_raft_v1_MessageBatch, _minikv_raft_v1_Ack, _minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack__Output>
  Stream: MethodDefinition<_minikv_raft_v1_MessageBatch, _minikv_raft_v1_Ack, _minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack__Output>
  TimeoutNow: MethodDefinition<_minikv_raft_v1_MessageBatch, _minikv_raft_v1_Ack, _minikv_raft_v1_MessageBatch__Output, _minikv_raft_v1_Ack__Output>
}
