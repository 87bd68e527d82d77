// Original file: /work/main/proto/volume.proto


export interface ChecksumRequest {
  'key'?: (string);
}

export interface ChecksumRequest__Output {
  'key': (string);
}
