// TextEncoder: emotion prompts → embeddings (CLIP text tower + BPE; MiniLM default). See docs/EMOA2E.md.
@_exported import Torch
