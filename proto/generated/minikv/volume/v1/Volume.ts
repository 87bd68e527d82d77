// Original file: proto/volume.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AbortReply as _minikv_volume_v1_AbortReply, AbortReply__Output as _minikv_volume_v1_AbortReply__Output } from '../../../minikv/volume/v1/AbortReply.js';
import type { AbortRequest as _minikv_volume_v1_AbortRequest, AbortRequest__Output as _minikv_volume_v1_AbortRequest__Output } from '../../../minikv/volume/v1/AbortRequest.js';
import type { ChecksumReply as _minikv_volume_v1_ChecksumReply, ChecksumReply__Output as _minikv_volume_v1_ChecksumReply__Output } from '../../../minikv/volume/v1/ChecksumReply.js';
import type { ChecksumRequest as _minikv_volume_v1_ChecksumRequest, ChecksumRequest__Output as _minikv_volume_v1_ChecksumRequest__Output } from '../../../minikv/volume/v1/ChecksumRequest.js';
import type { CommitReply as _minikv_volume_v1_CommitReply, CommitReply__Output as _minikv_volume_v1_CommitReply__Output } from '../../../minikv/volume/v1/CommitReply.js';
import type { CommitRequest as _minikv_volume_v1_CommitRequest, CommitRequest__Output as _minikv_volume_v1_CommitRequest__Output } from '../../../minikv/volume/v1/CommitRequest.js';
import type { CompactReply as _minikv_volume_v1_CompactReply, CompactReply__Output as _minikv_volume_v1_CompactReply__Output } from '../../../minikv/volume/v1/CompactReply.js';
import type { CompactRequest as _minikv_volume_v1_CompactRequest, CompactRequest__Output as _minikv_volume_v1_CompactRequest__Output } from '../../../minikv/volume/v1/CompactRequest.js';
import type { DeleteReply as _minikv_volume_v1_DeleteReply, DeleteReply__Output as _minikv_volume_v1_DeleteReply__Output } from '../../../minikv/volume/v1/DeleteReply.js';
import type { DeleteRequest as _minikv_volume_v1_DeleteRequest, DeleteRequest__Output as _minikv_volume_v1_DeleteRequest__Output } from '../../../minikv/volume/v1/DeleteRequest.js';
import type { HealthReply as _minikv_volume_v1_HealthReply, HealthReply__Output as _minikv_volume_v1_HealthReply__Output } from '../../../minikv/volume/v1/HealthReply.js';
import type { HealthRequest as _minikv_volume_v1_HealthRequest, HealthRequest__Output as _minikv_volume_v1_HealthRequest__Output } from '../../../minikv/volume/v1/HealthRequest.js';
import type { ListKeysReply as _minikv_volume_v1_ListKeysReply, ListKeysReply__Output as _minikv_volume_v1_ListKeysReply__Output } from '../../../minikv/volume/v1/ListKeysReply.js';
import type { ListKeysRequest as _minikv_volume_v1_ListKeysRequest, ListKeysRequest__Output as _minikv_volume_v1_ListKeysRequest__Output } from '../../../minikv/volume/v1/ListKeysRequest.js';
import type { PipeReplies as _minikv_volume_v1_PipeReplies, PipeReplies__Output as _minikv_volume_v1_PipeReplies__Output } from '../../../minikv/volume/v1/PipeReplies.js';
import type { PipeRequests as _minikv_volume_v1_PipeRequests, PipeRequests__Output as _minikv_volume_v1_PipeRequests__Output } from '../../../minikv/volume/v1/PipeRequests.js';
import type { PrepareReply as _minikv_volume_v1_PrepareReply, PrepareReply__Output as _minikv_volume_v1_PrepareReply__Output } from '../../../minikv/volume/v1/PrepareReply.js';
import type { PrepareRequest as _minikv_volume_v1_PrepareRequest, PrepareRequest__Output as _minikv_volume_v1_PrepareRequest__Output } from '../../../minikv/volume/v1/PrepareRequest.js';
import type { ReadReply as _minikv_volume_v1_ReadReply, ReadReply__Output as _minikv_volume_v1_ReadReply__Output } from '../../../minikv/volume/v1/ReadReply.js';
import type { ReadRequest as _minikv_volume_v1_ReadRequest, ReadRequest__Output as _minikv_volume_v1_ReadRequest__Output } from '../../../minikv/volume/v1/ReadRequest.js';
import type { StatReply as _minikv_volume_v1_StatReply, StatReply__Output as _minikv_volume_v1_StatReply__Output } from '../../../minikv/volume/v1/StatReply.js';
import type { StatRequest as _minikv_volume_v1_StatRequest, StatRequest__Output as _minikv_volume_v1_StatRequest__Output } from '../../../minikv/volume/v1/StatRequest.js';

export interface VolumeClient extends grpc.Client {
  Abort(argument: _minikv_volume_v1_AbortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_AbortReply__Output>): grpc.ClientUnaryCall;
  Abort(argument: _minikv_volume_v1_AbortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_AbortReply__Output>): grpc.ClientUnaryCall;
  Abort(argument: _minikv_volume_v1_AbortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_AbortReply__Output>): grpc.ClientUnaryCall;
  Abort(argument: _minikv_volume_v1_AbortRequest, callback: grpc.requestCallback<_minikv_volume_v1_AbortReply__Output>): grpc.ClientUnaryCall;
  abort(argument: _minikv_volume_v1_AbortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_AbortReply__Output>): grpc.ClientUnaryCall;
  abort(argument: _minikv_volume_v1_AbortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_AbortReply__Output>): grpc.ClientUnaryCall;
  abort(argument: _minikv_volume_v1_AbortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_AbortReply__Output>): grpc.ClientUnaryCall;
  abort(argument: _minikv_volume_v1_AbortRequest, callback: grpc.requestCallback<_minikv_volume_v1_AbortReply__Output>): grpc.ClientUnaryCall;
  
  Checksum(argument: _minikv_volume_v1_ChecksumRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_ChecksumReply__Output>): grpc.ClientUnaryCall;
  Checksum(argument: _minikv_volume_v1_ChecksumRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_ChecksumReply__Output>): grpc.ClientUnaryCall;
  Checksum(argument: _minikv_volume_v1_ChecksumRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_ChecksumReply__Output>): grpc.ClientUnaryCall;
  Checksum(argument: _minikv_volume_v1_ChecksumRequest, callback: grpc.requestCallback<_minikv_volume_v1_ChecksumReply__Output>): grpc.ClientUnaryCall;
  checksum(argument: _minikv_volume_v1_ChecksumRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_ChecksumReply__Output>): grpc.ClientUnaryCall;
  checksum(argument: _minikv_volume_v1_ChecksumRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_ChecksumReply__Output>): grpc.ClientUnaryCall;
  checksum(argument: _minikv_volume_v1_ChecksumRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_ChecksumReply__Output>): grpc.ClientUnaryCall;
  checksum(argument: _minikv_volume_v1_ChecksumRequest, callback: grpc.requestCallback<_minikv_volume_v1_ChecksumReply__Output>): grpc.ClientUnaryCall;
  
  Commit(argument: _minikv_volume_v1_CommitRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  Commit(argument: _minikv_volume_v1_CommitRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  Commit(argument: _minikv_volume_v1_CommitRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  Commit(argument: _minikv_volume_v1_CommitRequest, callback: grpc.requestCallback<_minikv_volume_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  commit(argument: _minikv_volume_v1_CommitRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  commit(argument: _minikv_volume_v1_CommitRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  commit(argument: _minikv_volume_v1_CommitRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  commit(argument: _minikv_volume_v1_CommitRequest, callback: grpc.requestCallback<_minikv_volume_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  
  Compact(argument: _minikv_volume_v1_CompactRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_CompactReply__Output>): grpc.ClientUnaryCall;
  Compact(argument: _minikv_volume_v1_CompactRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_CompactReply__Output>): grpc.ClientUnaryCall;
  Compact(argument: _minikv_volume_v1_CompactRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_CompactReply__Output>): grpc.ClientUnaryCall;
  Compact(argument: _minikv_volume_v1_CompactRequest, callback: grpc.requestCallback<_minikv_volume_v1_CompactReply__Output>): grpc.ClientUnaryCall;
  compact(argument: _minikv_volume_v1_CompactRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_CompactReply__Output>): grpc.ClientUnaryCall;
  compact(argument: _minikv_volume_v1_CompactRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_CompactReply__Output>): grpc.ClientUnaryCall;
  compact(argument: _minikv_volume_v1_CompactRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_CompactReply__Output>): grpc.ClientUnaryCall;
  compact(argument: _minikv_volume_v1_CompactRequest, callback: grpc.requestCallback<_minikv_volume_v1_CompactReply__Output>): grpc.ClientUnaryCall;
  
  Delete(argument: _minikv_volume_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_DeleteReply__Output>): grpc.ClientUnaryCall;
  Delete(argument: _minikv_volume_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_DeleteReply__Output>): grpc.ClientUnaryCall;
  Delete(argument: _minikv_volume_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_DeleteReply__Output>): grpc.ClientUnaryCall;
  Delete(argument: _minikv_volume_v1_DeleteRequest, callback: grpc.requestCallback<_minikv_volume_v1_DeleteReply__Output>): grpc.ClientUnaryCall;
  delete(argument: _minikv_volume_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_DeleteReply__Output>): grpc.ClientUnaryCall;
  delete(argument: _minikv_volume_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_DeleteReply__Output>): grpc.ClientUnaryCall;
  delete(argument: _minikv_volume_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_DeleteReply__Output>): grpc.ClientUnaryCall;
  delete(argument: _minikv_volume_v1_DeleteRequest, callback: grpc.requestCallback<_minikv_volume_v1_DeleteReply__Output>): grpc.ClientUnaryCall;
  
  Health(argument: _minikv_volume_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _minikv_volume_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _minikv_volume_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _minikv_volume_v1_HealthRequest, callback: grpc.requestCallback<_minikv_volume_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _minikv_volume_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _minikv_volume_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _minikv_volume_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _minikv_volume_v1_HealthRequest, callback: grpc.requestCallback<_minikv_volume_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  
  ListKeys(argument: _minikv_volume_v1_ListKeysRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_minikv_volume_v1_ListKeysReply__Output>;
  ListKeys(argument: _minikv_volume_v1_ListKeysRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_minikv_volume_v1_ListKeysReply__Output>;
  listKeys(argument: _minikv_volume_v1_ListKeysRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_minikv_volume_v1_ListKeysReply__Output>;
  listKeys(argument: _minikv_volume_v1_ListKeysRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_minikv_volume_v1_ListKeysReply__Output>;
  
  Pipe(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_minikv_volume_v1_PipeRequests, _minikv_volume_v1_PipeReplies__Output>;
  Pipe(options?: grpc.CallOptions): grpc.ClientDuplexStream<_minikv_volume_v1_PipeRequests, _minikv_volume_v1_PipeReplies__Output>;
  pipe(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_minikv_volume_v1_PipeRequests, _minikv_volume_v1_PipeReplies__Output>;
  pipe(options?: grpc.CallOptions): grpc.ClientDuplexStream<_minikv_volume_v1_PipeRequests, _minikv_volume_v1_PipeReplies__Output>;
  
  Prepare(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_PrepareReply__Output>): grpc.ClientWritableStream<_minikv_volume_v1_PrepareRequest>;
  Prepare(metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_PrepareReply__Output>): grpc.ClientWritableStream<_minikv_volume_v1_PrepareRequest>;
  Prepare(options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_PrepareReply__Output>): grpc.ClientWritableStream<_minikv_volume_v1_PrepareRequest>;
  Prepare(callback: grpc.requestCallback<_minikv_volume_v1_PrepareReply__Output>): grpc.ClientWritableStream<_minikv_volume_v1_PrepareRequest>;
  prepare(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_PrepareReply__Output>): grpc.ClientWritableStream<_minikv_volume_v1_PrepareRequest>;
  prepare(metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_PrepareReply__Output>): grpc.ClientWritableStream<_minikv_volume_v1_PrepareRequest>;
  prepare(options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_PrepareReply__Output>): grpc.ClientWritableStream<_minikv_volume_v1_PrepareRequest>;
  prepare(callback: grpc.requestCallback<_minikv_volume_v1_PrepareReply__Output>): grpc.ClientWritableStream<_minikv_volume_v1_PrepareRequest>;
  
  Read(argument: _minikv_volume_v1_ReadRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_minikv_volume_v1_ReadReply__Output>;
  Read(argument: _minikv_volume_v1_ReadRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_minikv_volume_v1_ReadReply__Output>;
  read(argument: _minikv_volume_v1_ReadRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_minikv_volume_v1_ReadReply__Output>;
  read(argument: _minikv_volume_v1_ReadRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_minikv_volume_v1_ReadReply__Output>;
  
  Stat(argument: _minikv_volume_v1_StatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_StatReply__Output>): grpc.ClientUnaryCall;
  Stat(argument: _minikv_volume_v1_StatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_StatReply__Output>): grpc.ClientUnaryCall;
  Stat(argument: _minikv_volume_v1_StatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_StatReply__Output>): grpc.ClientUnaryCall;
  Stat(argument: _minikv_volume_v1_StatRequest, callback: grpc.requestCallback<_minikv_volume_v1_StatReply__Output>): grpc.ClientUnaryCall;
  stat(argument: _minikv_volume_v1_StatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_StatReply__Output>): grpc.ClientUnaryCall;
  stat(argument: _minikv_volume_v1_StatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_minikv_volume_v1_StatReply__Output>): grpc.ClientUnaryCall;
  stat(argument: _minikv_volume_v1_StatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_minikv_volume_v1_StatReply__Output>): grpc.ClientUnaryCall;
  stat(argument: _minikv_volume_v1_StatRequest, callback: grpc.requestCallback<_minikv_volume_v1_StatReply__Output>): grpc.ClientUnaryCall;
  
}

export interface VolumeHandlers extends grpc.UntypedServiceImplementation {
  Abort: grpc.handleUnaryCall<_minikv_volume_v1_AbortRequest__Output, _minikv_volume_v1_AbortReply>;
  
  Checksum: grpc.handleUnaryCall<_minikv_volume_v1_ChecksumRequest__Output, _minikv_volume_v1_ChecksumReply>;
  
  Commit: grpc.handleUnaryCall<_minikv_volume_v1_CommitRequest__Output, _minikv_volume_v1_CommitReply>;
  
  Compact: grpc.handleUnaryCall<_minikv_volume_v1_CompactRequest__Output, _minikv_volume_v1_CompactReply>;
  
  Delete: grpc.handleUnaryCall<_minikv_volume_v1_DeleteRequest__Output, _minikv_volume_v1_DeleteReply>;
  
  Health: grpc.handleUnaryCall<_minikv_volume_v1_HealthRequest__Output, _minikv_volume_v1_HealthReply>;
  
  ListKeys: grpc.handleServerStreamingCall<_minikv_volume_v1_ListKeysRequest__Output, _minikv_volume_v1_ListKeysReply>;
  
  Pipe: grpc.handleBidiStreamingCall<_minikv_volume_v1_PipeRequests__Output, _minikv_volume_v1_PipeReplies>;
  
  Prepare: grpc.handleClientStreamingCall<_minikv_volume_v1_PrepareRequest__Output, _minikv_volume_v1_PrepareReply>;
  
  Read: grpc.handleServerStreamingCall<_minikv_volume_v1_ReadRequest__Output, _minikv_volume_v1_ReadReply>;
  
  Stat: grpc.handleUnaryCall<_minikv_volume_v1_StatRequest__Output, _minikv_volume_v1_StatReply>;
  
}

export interface VolumeDefinition extends grpc.ServiceDefinition {
  Abort: MethodDefinition<_minikv_volume_v1_AbortRequest, _minikv_volume_v1_AbortReply, _minikv_volume_v1_AbortRequest__Output, _minikv_volume_v1_AbortReply__Output>
  Checksum: MethodDefinition<_minikv_volume_v1_ChecksumRequest, _minikv_volume_v1_ChecksumReply, _minikv_volume_v1_ChecksumRequest__Output, _minikv_volume_v1_ChecksumReply__Output>
  Commit: MethodDefinition<_minikv_volume_v1_CommitRequest, _minikv_volume_v1_CommitReply, _minikv_volume_v1_CommitRequest__Output, _minikv_volume_v1_CommitReply__Output>
  Compact: MethodDefinition<_minikv_volume_v1_CompactRequest, _minikv_volume_v1_CompactReply, _minikv_volume_v1_CompactRequest__Output, _minikv_volume_v1_CompactReply__Output>
  Delete: MethodDefinition<_minikv_volume_v1_DeleteRequest, _minikv_volume_v1_DeleteReply, _minikv_volume_v1_DeleteRequest__Output, _minikv_volume_v1_DeleteReply__Output>
  Health: MethodDefinition<_minikv_volume_v1_HealthRequest, _minikv_volume_v1_HealthReply, _minikv_volume_v1_HealthRequest__Output, _minikv_volume_v1_HealthReply__Output>
  ListKeys: MethodDefinition<_minikv_volume_v1_ListKeysRequest, _minikv_volume_v1_ListKeysReply, _minikv_volume_v1_ListKeysRequest__Output, _minikv_volume_v1_ListKeysReply__Output>
  Pipe: MethodDefinition<_minikv_volume_v1_PipeRequests, _minikv_volume_v1_PipeReplies, _minikv_volume_v1_PipeRequests__Output, _minikv_volume_v1_PipeReplies__Output>
  Prepare: MethodDefinition<_minikv_volume_v1_PrepareRequest, _minikv_volume_v1_PrepareReply, _minikv_volume_v1_PrepareRequest__Output, _minikv_volume_v1_PrepareReply__Output>
  Read: MethodDefinition<_minikv_volume_v1_ReadRequest, _minikv_volume_v1_ReadReply, _minikv_volume_v1_ReadRequest__Output, _minikv_volume_v1_ReadReply__Output>
  Stat: MethodDefinition<_minikv_volume_v1_StatRequest, _minikv_volume_v1_StatReply, _minikv_volume_v1_StatRequest__Output, _minikv_volume_v1_StatReply__Output>
}
