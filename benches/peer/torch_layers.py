#!/usr/bin/env python3
"""PyTorch side of `benches/benches/layers.rs`: forward + backward of the same single layers at
the same shapes (fp32, CPU unless --device cuda), median of timed repeats, one JSON line each.

usage: torch_layers.py [--device cpu|cuda] [--repeats N]
"""
import argparse, json, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def layers():
    yield "leaky_relu/64x12544", (64, 12544), lambda x: F.leaky_relu(x, 0.2)
    yield "tanh/64x12544", (64, 12544), torch.tanh
    yield "batch_norm/64x12544", (64, 12544), nn.BatchNorm1d(12544)
    yield "batch_norm/64x64x14x14", (64, 64, 14, 14), nn.BatchNorm2d(64)
    yield "batch_norm_leaky_relu/64x12544", (64, 12544), nn.Sequential(nn.BatchNorm1d(12544), nn.LeakyReLU(0.2))
    yield "batch_norm_leaky_relu/64x64x14x14", (64, 64, 14, 14), nn.Sequential(nn.BatchNorm2d(64), nn.LeakyReLU(0.2))
    yield "G convT 256->128 7x7", (64, 256, 7, 7), nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False)
    yield "G convT 128->64 7->14", (64, 128, 7, 7), nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False)
    yield "G convT 64->1 14->28", (64, 64, 14, 14), nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False)
    yield "D conv 1->64 28->14", (64, 1, 28, 28), nn.Conv2d(1, 64, 5, 2, 2)
    yield "D conv 64->128 14->7", (64, 64, 14, 14), nn.Conv2d(64, 128, 5, 2, 2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for name, shape, layer in layers():
        if isinstance(layer, nn.Module):
            layer = layer.to(dev)
        x0 = torch.randn(*shape, device=dev)
        times = []
        for i in range(a.repeats + 3):
            x = x0.clone().requires_grad_(True)
            sync()
            t = time.perf_counter()
            layer(x).sum().backward()
            sync()
            if i >= 3:
                times.append(time.perf_counter() - t)
        print(json.dumps({"peer": "pytorch", "layer": name, "device": str(dev),
                          "threads": torch.get_num_threads(),
                          "ms": statistics.median(times) * 1000}), flush=True)


if __name__ == "__main__":
    main()
