// Original file: proto/coordinator.proto


export interface ResolveTransactionRequest {
  'txid'?: (string);
  'volume_id'?: (string);
  'key'?: (string);
}

export interface ResolveTransactionRequest__Output {
  'txid': (string);
  'volume_id': (string);
  'key': (string);
}
