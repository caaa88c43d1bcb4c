#!/usr/bin/python3
"""python3-torch side of EngineBenchmark (Sources/Torch/Benchmark/EngineBenchmark.swift).

Times the same ops the same way (median of --iterations repetitions after 2 warm-up runs) and prints one
JSON object of seconds per repetition: matmul, conv_fwd, conv_fwd_bwd, add_overhead (per op).
Run by the Swift side with the engine's thread count; standalone: /usr/bin/python3 scripts/bench/engine_torch.py
"""
import argparse
import json
import os
import statistics
import time

import torch


def timed(iterations, body, warmup=2):
    for _ in range(warmup):
        body()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--overhead-ops", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    out = {"threads": torch.get_num_threads(), "torch_version": torch.__version__}

    a, b = torch.randn(1024, 1024, generator=g), torch.randn(1024, 1024, generator=g)
    with torch.no_grad():
        out["matmul"] = timed(args.iterations, lambda: torch.matmul(a, b))

    x = torch.randn(1, 128, 64, 64, generator=g)
    w = torch.randn(128, 128, 3, 3, generator=g) * 0.03
    bias = torch.zeros(128)
    with torch.no_grad():
        out["conv_fwd"] = timed(args.iterations, lambda: torch.nn.functional.conv2d(x, w, bias, padding=1))
    xg, wg, bg = x.clone().requires_grad_(True), w.clone().requires_grad_(True), bias.clone().requires_grad_(True)

    def fwd_bwd():
        torch.nn.functional.conv2d(xg, wg, bg, padding=1).sum().backward()
        xg.grad = None
        wg.grad = None
        bg.grad = None
    out["conv_fwd_bwd"] = timed(args.iterations, fwd_bwd)

    s, t = torch.tensor([1.0]), torch.tensor([2.0])
    n = args.overhead_ops

    def adds():
        for _ in range(n):
            s + t
    with torch.no_grad():
        out["add_overhead"] = timed(args.iterations, adds) / n
    print(json.dumps(out))


if __name__ == "__main__":
    main()
