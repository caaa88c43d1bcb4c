// FaceAnalysis: MediaPipe face detection, Face Mesh, iris and tracking on the Torch engine.
@_exported import Media
@_exported import Torch
