// Original file: proto/volume.proto


export interface StatRequest {
  'key'?: (string);
}

export interface StatRequest__Output {
  'key': (string);
}
