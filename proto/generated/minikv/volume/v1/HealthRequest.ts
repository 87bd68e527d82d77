// Original file: /work/main/proto/volume.proto


export interface HealthRequest {
}

export interface HealthRequest__Output {
}
