// Audio2Expression: EmoA2E (paper Sec. 4.2, Eq. 9-14): MFCC clips + identity α + emotion prompt + intensity η
// → expression coefficients β̂ per frame, with GRU and MLP ablation backbones. See docs/EMOA2E.md.
@_exported import Torch
@_exported import TextEncoder
