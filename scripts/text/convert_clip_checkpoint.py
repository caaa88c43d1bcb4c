"""Converts a user's CLIP checkpoint to the safetensors file `CLIPTextTransformer.load(safetensors:)` reads.

Accepted inputs (python3-torch 1.13, e.g. /usr/bin/python3):
  * OpenAI's released TorchScript archives (ViT-B-32.pt ...): read with torch.jit.load, which does not
    unpickle arbitrary Python objects;
  * open_clip / OpenAI plain state dicts (.pt/.pth/.bin): read with torch.load(weights_only=True), so a pickle
    that holds anything but tensors is refused; a {"state_dict": ...} wrapper and "module." prefixes are handled;
  * .safetensors files with OpenAI key names (re-exported text tower only).
Only the text tower is kept: token_embedding.weight, positional_embedding, transformer.resblocks.*, ln_final.*,
text_projection. The output never contains pickle.

    /usr/bin/python3 scripts/text/convert_clip_checkpoint.py ViT-B-32.pt Models/text/clip-vit-b32-text.safetensors [--fp16]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures"))
import st  # noqa: E402

TEXT_PREFIXES = ("token_embedding.", "positional_embedding", "transformer.resblocks.", "ln_final.", "text_projection")


def read_state(path):
    if path.endswith(".safetensors"):
        return st.load(path)
    try:
        return torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError:
        pass  # not a TorchScript archive
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise SystemExit(f"{path}: not a state dict")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--fp16", action="store_true", help="store float16 (half the size; loaded back as float32)")
    args = ap.parse_args()
    state = read_state(args.checkpoint)
    text = {k: v for k, v in state.items() if isinstance(v, torch.Tensor) and k.startswith(TEXT_PREFIXES)}
    for required in ("token_embedding.weight", "positional_embedding", "text_projection", "ln_final.weight"):
        if required not in text:
            raise SystemExit(f"{args.checkpoint}: no '{required}': not an OpenAI/open_clip CLIP checkpoint")
    dtype = torch.float16 if args.fp16 else torch.float32
    text = {k: v.detach().to(dtype).contiguous() for k, v in text.items()}
    layers = len({k.split(".")[2] for k in text if k.startswith("transformer.resblocks.")})
    width = text["positional_embedding"].shape[1]
    st.save(text, args.output, metadata={"source": os.path.basename(args.checkpoint), "layers": layers, "width": width})
    print(f"wrote {args.output}: {len(text)} tensors, width {width}, {layers} layers, "
          f"embed {text['text_projection'].shape[1]}, vocab {text['token_embedding.weight'].shape[0]}")


if __name__ == "__main__":
    main()
