// Original file: proto/volume.proto


export interface AbortRequest {
  'txid'?: (string);
}

export interface AbortRequest__Output {
  'txid': (string);
}
