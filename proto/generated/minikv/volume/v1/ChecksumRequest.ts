// Original file: proto/volume.proto


export interface ChecksumRequest {
  'key'?: (string);
}

export interface ChecksumRequest__Output {
  'key': (string);
}
