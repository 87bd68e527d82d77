import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _minikv_raft_v1_Ack, Ack__Output as _minikv_raft_v1_Ack__Output } from './minikv/raft/v1/Ack.js';
import type { ConfState as _minikv_raft_v1_ConfState, ConfState__Output as _minikv_raft_v1_ConfState__Output } from './minikv/raft/v1/ConfState.js';
import type { Entry as _minikv_raft_v1_Entry, Entry__Output as _minikv_raft_v1_Entry__Output } from './minikv/raft/v1/Entry.js';
import type { IdentifyReply as _minikv_raft_v1_IdentifyReply, IdentifyReply__Output as _minikv_raft_v1_IdentifyReply__Output } from './minikv/raft/v1/IdentifyReply.js';
import type { IdentifyRequest as _minikv_raft_v1_IdentifyRequest, IdentifyRequest__Output as _minikv_raft_v1_IdentifyRequest__Output } from './minikv/raft/v1/IdentifyRequest.js';
import type { MessageBatch as _minikv_raft_v1_MessageBatch, MessageBatch__Output as _minikv_raft_v1_MessageBatch__Output } from './minikv/raft/v1/MessageBatch.js';
import type { RaftInternalClient as _minikv_raft_v1_RaftInternalClient, RaftInternalDefinition as _minikv_raft_v1_RaftInternalDefinition } from './minikv/raft/v1/RaftInternal.js';
import type { RaftMessage as _minikv_raft_v1_RaftMessage, RaftMessage__Output as _minikv_raft_v1_RaftMessage__Output } from './minikv/raft/v1/RaftMessage.js';
import type { SnapshotChunk as _minikv_raft_v1_SnapshotChunk, SnapshotChunk__Output as _minikv_raft_v1_SnapshotChunk__Output } from './minikv/raft/v1/SnapshotChunk.js';
import type { SnapshotHeader as _minikv_raft_v1_SnapshotHeader, SnapshotHeader__Output as _minikv_raft_v1_SnapshotHeader__Output } from './minikv/raft/v1/SnapshotHeader.js';
import type { SnapshotMeta as _minikv_raft_v1_SnapshotMeta, SnapshotMeta__Output as _minikv_raft_v1_SnapshotMeta__Output } from './minikv/raft/v1/SnapshotMeta.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  minikv: {
    raft: {
      v1: {
        Ack: MessageTypeDefinition<_minikv_raft_v1_Ack, _minikv_raft_v1_Ack__Output>
        ConfState: MessageTypeDefinition<_minikv_raft_v1_ConfState, _minikv_raft_v1_ConfState__Output>
        Entry: MessageTypeDefinition<_minikv_raft_v1_Entry, _minikv_raft_v1_Entry__Output>
        EntryType: EnumTypeDefinition
        IdentifyReply: MessageTypeDefinition<_minikv_raft_v1_IdentifyReply, _minikv_raft_v1_IdentifyReply__Output>
        IdentifyRequest: MessageTypeDefinition<_minikv_raft_v1_IdentifyRequest, _minikv_raft_v1_IdentifyRequest__Output>
        MessageBatch: MessageTypeDefinition<_minikv_raft_v1_MessageBatch, _minikv_raft_v1_MessageBatch__Output>
        MessageType: EnumTypeDefinition
        RaftInternal: SubtypeConstructor<typeof grpc.Client, _minikv_raft_v1_RaftInternalClient> & { service: _minikv_raft_v1_RaftInternalDefinition }
        RaftMessage: MessageTypeDefinition<_minikv_raft_v1_RaftMessage, _minikv_raft_v1_RaftMessage__Output>
        SnapshotChunk: MessageTypeDefinition<_minikv_raft_v1_SnapshotChunk, _minikv_raft_v1_SnapshotChunk__Output>
        SnapshotHeader: MessageTypeDefinition<_minikv_raft_v1_SnapshotHeader, _minikv_raft_v1_SnapshotHeader__Output>
        SnapshotMeta: MessageTypeDefinition<_minikv_raft_v1_SnapshotMeta, _minikv_raft_v1_SnapshotMeta__Output>
      }
    }
  }
}

