#!/usr/bin/env python3
"""PyTorch side of `ganforge bench --generate`: generator-only inference (evaluation mode,
no autograd) of the reference models, images/s at the given batch sizes, one JSON line each.
The architectures come from the reference benchmark script itself.

usage: torch_generate.py [--reference PATH] [--device cpu|cuda] [--models a,b]
                         [--batches 1,64,1024] [--iters N] [--warmup N]
"""
import argparse, importlib.util, json, time
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reference", default="../shared/reference/torch_gan_bench.py")
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", default="mlp-mnist,dcgan-mnist,dcgan32,dcgan64")
    p.add_argument("--batches", default="1,64,1024")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    spec = importlib.util.spec_from_file_location("reference", a.reference)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    for name in a.models.split(","):
        build, _ = ref.MODELS[name]
        g, _, nz, _ = build()
        g.apply(ref.init_weights)
        g = g.to(dev).eval()
        conv = "dcgan" in name and name != "dcgan-mnist"
        for batch in map(int, a.batches.split(",")):
            z = torch.randn(batch, nz, 1, 1, device=dev) if conv else torch.randn(batch, nz, device=dev)
            with torch.no_grad():
                for _ in range(a.warmup):
                    g(z)
                sync()
                t = time.perf_counter()
                for _ in range(a.iters):
                    g(z)
                sync()
                dt = time.perf_counter() - t
            print(json.dumps({"peer": "pytorch", "model": name, "mode": "generate", "batch": batch,
                              "threads": torch.get_num_threads(), "iters": a.iters,
                              "s_per_iter": dt / a.iters, "images_per_s": batch * a.iters / dt}),
                  flush=True)


if __name__ == "__main__":
    main()
