#!/usr/bin/env python3
"""Peer of `ganforge bench --model sngan32`: one training iteration of SNGAN's residual
networks (Miyato et al. 2018) in PyTorch, the same networks and maths as ganforge's, timed the
same way.

Networks (32x32 RGB): generator z (128) -> Linear -> [256, 4, 4] -> 3 up-blocks (BN ReLU,
nearest upsample x2, Conv3x3, BN ReLU, Conv3x3; shortcut upsample x2, Conv1x1) -> BN ReLU ->
Conv3x3 -> tanh; discriminator with spectral norm on every weight (one power iteration per
use): the optimised first block (Conv3x3 ReLU Conv3x3, avg-pool; shortcut avg-pool,
Conv1x1), a down-block (ReLU Conv3x3 ReLU Conv3x3, avg-pool; shortcut Conv1x1, avg-pool), two
plain blocks (identity shortcut), ReLU, sum over the pixels, Linear(128 -> 1). Every
convolution and linear layer has a bias.

One iteration, as ganforge's bench runs it: the generator makes a batch; the discriminator's
non-saturating loss (BCE with logits, real 1, generated 0) takes one Adam step; the
generator's (generated scored as real) takes one Adam step. Adam(2e-4, 0.5, 0.999). Prints
one JSON line with images/s.

usage: torch_sngan.py [--device cpu|cuda] [--models sngan32] [--iters N] [--warmup N]
                      [--batch N] [--threads N] [--freeze-d]

--freeze-d: the generator step runs the discriminator with requires_grad off, so its backward
skips the discriminator's weight gradients. Same maths, less work: compare against the faster.
"""
import os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_harness import main, report, time_steps  # noqa: E402
from torch.nn.utils import spectral_norm

MODELS = {"sngan32": (32, 64)}


class UpBlock(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.b1, self.b2 = nn.BatchNorm2d(w), nn.BatchNorm2d(w)
        self.c1, self.c2 = nn.Conv2d(w, w, 3, 1, 1), nn.Conv2d(w, w, 3, 1, 1)
        self.sc = nn.Conv2d(w, w, 1)

    def forward(self, x):
        h = F.interpolate(F.relu(self.b1(x)), scale_factor=2, mode="nearest")
        h = self.c2(F.relu(self.b2(self.c1(h))))
        return h + self.sc(F.interpolate(x, scale_factor=2, mode="nearest"))


class Generator(nn.Module):
    def __init__(self, latent=128, w=256, blocks=3):
        super().__init__()
        self.w = w
        self.l1 = nn.Linear(latent, 4 * 4 * w)
        self.blocks = nn.Sequential(*[UpBlock(w) for _ in range(blocks)])
        self.b = nn.BatchNorm2d(w)
        self.out = nn.Conv2d(w, 3, 3, 1, 1)

    def forward(self, z):
        x = self.l1(z).view(z.shape[0], self.w, 4, 4)
        return torch.tanh(self.out(F.relu(self.b(self.blocks(x)))))


class DownBlock(nn.Module):
    def __init__(self, c_in, w, kind):
        super().__init__()
        self.kind = kind
        self.c1 = spectral_norm(nn.Conv2d(c_in, w, 3, 1, 1))
        self.c2 = spectral_norm(nn.Conv2d(w, w, 3, 1, 1))
        self.sc = spectral_norm(nn.Conv2d(c_in, w, 1)) if kind != "plain" else None

    def forward(self, x):
        h = x if self.kind == "first" else F.relu(x)
        h = self.c2(F.relu(self.c1(h)))
        if self.kind == "first":
            return F.avg_pool2d(h, 2) + self.sc(F.avg_pool2d(x, 2))
        if self.kind == "down":
            return F.avg_pool2d(h, 2) + F.avg_pool2d(self.sc(x), 2)
        return h + x


class Discriminator(nn.Module):
    def __init__(self, w=128):
        super().__init__()
        self.blocks = nn.Sequential(DownBlock(3, w, "first"), DownBlock(w, w, "down"),
                                    DownBlock(w, w, "plain"), DownBlock(w, w, "plain"))
        self.head = spectral_norm(nn.Linear(w, 1))

    def forward(self, x):
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.head(h)


def run(name, device, iters, warmup, batch, freeze_d):
    size, default_batch = MODELS[name]
    bs = batch or default_batch
    g, d = Generator().to(device), Discriminator().to(device)
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    pool = [torch.rand(bs, 3, size, size, device=device) * 2 - 1 for _ in range(8)]
    bce = F.binary_cross_entropy_with_logits

    def step(i):
        real = pool[i % len(pool)]
        fake = g(torch.randn(bs, 128, device=device))
        real_logits, fake_logits = d(real), d(fake.detach())
        ld = bce(real_logits, torch.ones_like(real_logits)) \
            + bce(fake_logits, torch.zeros_like(fake_logits))
        od.zero_grad(set_to_none=True); ld.backward(); od.step()
        if freeze_d:
            d.requires_grad_(False)
        scores = d(fake)
        lg = bce(scores, torch.ones_like(scores))
        og.zero_grad(set_to_none=True); lg.backward(); og.step()
        if freeze_d:
            d.requires_grad_(True)
        return ld, lg

    seconds, losses = time_steps(step, device, iters, warmup)
    report(name, device, (g, d), bs, iters, freeze_d, seconds, losses)


if __name__ == "__main__":
    main(MODELS, run)
