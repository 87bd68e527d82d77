// Original file: proto/volume.proto


export interface PipeError {
  'code'?: (string);
  'message'?: (string);
  'detail'?: ({[key: string]: string});
}

export interface PipeError__Output {
  'code': (string);
  'message': (string);
  'detail': ({[key: string]: string});
}
