// FaceModel module: see docs/ARCHITECTURE.md.
@_exported import Torch
