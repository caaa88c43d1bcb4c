// TGDMModel module: see docs/ARCHITECTURE.md and docs/TGDM.md.
@_exported import Torch
@_exported import Diffusion
