#!/usr/bin/env python3
"""Peer of `ganforge bench --model M --regulariser R`: one training iteration of a reference
model (the networks of the reference benchmark, `--reference`) with one regulariser added to
the plain recipe, at its paper's setting, the same maths as ganforge's:

  wgan-clip      Wasserstein loss, D's weights clamped to [-0.01, 0.01] after its step,
                 RMSProp(5e-5, alpha 0.99, eps 1e-8) for both networks
  wgan-gp        Wasserstein loss + 10 * mean((|grad D(x_hat)| - 1)^2) on interpolates
  r1             non-saturating loss + 10 / 2 * mean(|grad D(x)|^2) on the real batch
  lecam          non-saturating loss + 0.3 * LeCam's term, its averages decaying by 0.99
  spectral-norm  non-saturating loss, every D weight spectrally normalised (one power
                 iteration per use)
  ema            non-saturating loss, G's weights and BatchNorm statistics averaged after each
                 step (decay min(0.999, (1 + k) / (10 + k)))
  diffaugment    non-saturating loss, DiffAugment (colour, translation, cutout) of everything
                 D scores, in both steps

Adam(2e-4, 0.5, 0.999) unless stated. One iteration: G makes a batch, one D step, one G step,
D frozen in the G step with --freeze-d (the tuned form). Each regulariser takes PyTorch's
fastest form of the same maths: R1 differentiates the real batch's own scores (no second
forward pass), the averages and clamps use the fused `torch._foreach_*` operations.

usage: torch_regularisers.py --regulariser R [--reference PATH] [--device cpu|cuda]
                             [--models dcgan-mnist] [--iters N] [--warmup N] [--batch N]
                             [--threads N] [--freeze-d]
"""
import argparse, copy, importlib.util, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_harness import main, report, time_steps  # noqa: E402

REGULARISERS = ["wgan-clip", "wgan-gp", "r1", "lecam", "spectral-norm", "ema", "diffaugment"]
WASSERSTEIN = {"wgan-clip", "wgan-gp"}


def own_options():
    """This script's options; the rest are the harness's."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--regulariser", required=True, choices=REGULARISERS)
    p.add_argument("--reference", default="../shared/reference/torch_gan_bench.py")
    a, rest = p.parse_known_args()
    sys.argv = [sys.argv[0]] + rest
    return a


def load_reference(path):
    spec = importlib.util.spec_from_file_location("reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def diff_augment(x):
    """DiffAugment's colour, translation (1/8 of the side, zeros shifted in) and cutout (a
    square of half the side), each with its own random factors per image."""
    b, _, h, w = x.shape
    dev = x.device
    x = x + (torch.rand(b, 1, 1, 1, device=dev) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev) + 0.5) + mean
    # Translation: a gather from the zero-padded images.
    sy, sx = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
    ty = torch.randint(-sy, sy + 1, (b, 1, 1), device=dev)
    tx = torch.randint(-sx, sx + 1, (b, 1, 1), device=dev)
    gb, gy, gx = torch.meshgrid(torch.arange(b, device=dev), torch.arange(h, device=dev),
                                torch.arange(w, device=dev), indexing="ij")
    gy = torch.clamp(gy + ty + 1, 0, h + 1)
    gx = torch.clamp(gx + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    x = padded.permute(0, 2, 3, 1)[gb, gy, gx].permute(0, 3, 1, 2)
    # Cutout: a mask zero on one square per image.
    ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=dev)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=dev)
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    inside = (ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch) & (xs >= cx - cw // 2) & (xs < cx - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def input_gradient(d, x, scores=None):
    """The gradient of the summed scores with respect to `x`, differentiable (double backward)."""
    if scores is None:
        scores = d(x)
    (g,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return g.flatten(1)


def build(ref, name, reg, device):
    make, default_batch = ref.MODELS[name]
    g, d, nz, img = make()
    g.apply(ref.init_weights)
    d.apply(ref.init_weights)
    if reg == "spectral-norm":
        for m in list(d.modules()):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.utils.spectral_norm(m)
    return g.to(device), d.to(device), nz, img, default_batch


def runner(a, ref):
    reg = a.regulariser

    def run(name, device, iters, warmup, batch, freeze_d):
        g, d, nz, img, default_batch = build(ref, name, reg, device)
        bs = batch or default_batch
        if reg == "wgan-clip":
            opt = lambda p: torch.optim.RMSprop(p, 5e-5, alpha=0.99, eps=1e-8)
        else:
            opt = lambda p: torch.optim.Adam(p, 2e-4, betas=(0.5, 0.999))
        og, od = opt(g.parameters()), opt(d.parameters())
        ema = copy.deepcopy(g).requires_grad_(False) if reg == "ema" else None
        averaged = lambda net: [t for t in list(net.parameters()) + list(net.buffers())
                                if t.is_floating_point()]
        pairs = (averaged(ema), averaged(g)) if ema is not None else None
        d_params = list(d.parameters())
        anchors = torch.zeros(2, device=device)
        reals = [torch.rand(bs, *img, device=device) * 2 - 1 for _ in range(8)]
        aug = diff_augment if reg == "diffaugment" else (lambda x: x)
        conv = "dcgan" in name and name != "dcgan-mnist"

        def adversarial_d(lr, lf):
            if reg in WASSERSTEIN:
                return lf.mean() - lr.mean()
            return F.softplus(-lr).mean() + F.softplus(lf).mean()

        def step(i):
            nonlocal anchors
            real = aug(reals[i % len(reals)])
            z = torch.randn(bs, nz, 1, 1, device=device) if conv else torch.randn(bs, nz, device=device)
            fake = g(z)
            detached = aug(fake.detach())
            if reg == "r1":
                real = real.detach().requires_grad_(True)
            lr, lf = d(real), d(detached)
            ld = adversarial_d(lr, lf)
            if reg == "wgan-gp":
                mix = torch.rand(bs, 1, 1, 1, device=device)
                point = (mix * real + (1 - mix) * detached).requires_grad_(True)
                grad = input_gradient(d, point)
                ld = ld + 10.0 * ((grad.norm(2, dim=1) - 1) ** 2).mean()
            elif reg == "r1":
                grad = input_gradient(d, real, lr)
                ld = ld + 10.0 / 2 * grad.pow(2).sum(1).mean()
            elif reg == "lecam":
                ld = ld + 0.3 * (F.relu(lr - anchors[1]).pow(2).mean()
                                 + F.relu(anchors[0] - lf).pow(2).mean())
                means = torch.stack([lr.detach().mean(), lf.detach().mean()])
                anchors = anchors * 0.99 + means * 0.01
            od.zero_grad(set_to_none=True)
            ld.backward()
            od.step()
            if reg == "wgan-clip":
                with torch.no_grad():
                    torch._foreach_clamp_min_(d_params, -0.01)
                    torch._foreach_clamp_max_(d_params, 0.01)
            if freeze_d:
                d.requires_grad_(False)
            scores = d(aug(fake))
            lg = -scores.mean() if reg in WASSERSTEIN else F.softplus(-scores).mean()
            og.zero_grad(set_to_none=True)
            lg.backward()
            og.step()
            if freeze_d:
                d.requires_grad_(True)
            if pairs is not None:
                decay = min(0.999, (1 + i) / (10 + i))
                with torch.no_grad():
                    torch._foreach_lerp_(pairs[0], pairs[1], 1 - decay)
            return ld.detach(), lg.detach()

        seconds, losses = time_steps(step, device, iters, warmup)
        report(f"{name}+{reg}", device, (g, d), bs, iters, freeze_d, seconds, losses)

    return run


if __name__ == "__main__":
    options = own_options()
    reference = load_reference(options.reference)
    main(list(reference.MODELS), runner(options, reference))
