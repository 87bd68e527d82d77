// Original file: proto/coordinator-peer.proto


export interface PeerStatusRequest {
  'from_id'?: (string);
}

export interface PeerStatusRequest__Output {
  'from_id': (string);
}
