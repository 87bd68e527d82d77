// Original file: proto/volume.proto


export interface HealthRequest {
}

export interface HealthRequest__Output {
}
