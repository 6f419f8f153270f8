#!/usr/bin/env python3
"""Peer of `ganforge bench --model pix2pix256|pix2pix64`: one pix2pix training iteration in
PyTorch, the same networks and maths as ganforge's, timed the same way.

Networks: the U-Net of pix2pix (`UnetGenerator`: encoder Conv(k4 s2 p1) down to 1x1, level l
with 64 * min(2^l, 8) channels, LeakyReLU(0.2) before every encoder convolution but the first,
BatchNorm after all but the first and the last, no encoder biases (the authors' use_bias with
BatchNorm); decoder
ReLU -> ConvT(k4 s2 p1) -> BatchNorm with skip connections, the last with a bias and tanh;
dropout 0.5 on the decoder of the three levels above the bottleneck, never the top one) and
the PatchGAN (`NLayerDiscriminator`, 3 layers at 256, one fewer per halving of the image) on
source and image joined along the channels. RGB -> RGB.

One iteration, as ganforge's `Translation` objective runs it: the generator translates the
source; the discriminator's loss, half the BCE-with-logits on (source, target) as real and
(source, translation) as fake, takes one Adam step; then the generator's loss, BCE of the
translation scored as real plus 100 x L1 to the target, takes one Adam step. Adam(2e-4, 0.5,
0.999). Prints one JSON line per model with images/s (pairs consumed per second).

usage: torch_pix2pix.py [--device cpu|cuda] [--models pix2pix256,pix2pix64] [--iters N]
                        [--warmup N] [--batch N] [--threads N] [--freeze-d]

--freeze-d: the generator step runs the discriminator with requires_grad off, so its backward
skips the discriminator's weight gradients. Same maths, less work: compare against the faster.
"""
import math, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_harness import main, report, time_steps  # noqa: E402


class Unet(nn.Module):
    def __init__(self, in_c, out_c, size, width=64, dropout=0.5):
        super().__init__()
        depth = int(math.log2(size))
        w = lambda level: width * 2 ** min(level, 3)
        self.down = nn.ModuleList()
        self.down_norm = nn.ModuleList()
        for level in range(depth):
            c_in = in_c if level == 0 else w(level - 1)
            normed = 0 < level < depth - 1
            self.down.append(nn.Conv2d(c_in, w(level), 4, 2, 1, bias=False))
            self.down_norm.append(nn.BatchNorm2d(w(level)) if normed else nn.Identity())
        self.up = nn.ModuleList()
        self.up_norm = nn.ModuleList()
        for level in range(depth):
            c_in = w(level) if level == depth - 1 else 2 * w(level)
            c_out = out_c if level == 0 else w(level - 1)
            self.up.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=level == 0))
            self.up_norm.append(nn.BatchNorm2d(c_out) if level > 0 else nn.Identity())
        innermost = depth - 1
        self.dropped = set(range(max(innermost - 3, 1), innermost))
        self.dropout = nn.Dropout(dropout)
        self.depth = depth

    def forward(self, x):
        skips = []
        for level in range(self.depth):
            if level > 0:
                x = F.leaky_relu(x, 0.2)
            x = self.down_norm[level](self.down[level](x))
            skips.append(x)
        skips.pop()
        for level in reversed(range(self.depth)):
            x = self.up_norm[level](self.up[level](F.relu(x)))
            if level in self.dropped:
                x = self.dropout(x)
            x = torch.cat([skips.pop(), x], 1) if skips else torch.tanh(x)
        return x


def patchgan(in_c, size, width=64):
    layers = max(3 - (int(math.log2(256)) - int(math.log2(size))), 1)
    seq = [nn.Conv2d(in_c, width, 4, 2, 1), nn.LeakyReLU(0.2)]
    mult = 1
    for n in range(1, layers):
        prev, mult = mult, min(2 ** n, 8)
        seq += [nn.Conv2d(width * prev, width * mult, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * mult), nn.LeakyReLU(0.2)]
    prev, mult = mult, min(2 ** layers, 8)
    seq += [nn.Conv2d(width * prev, width * mult, 4, 1, 1, bias=False),
            nn.BatchNorm2d(width * mult), nn.LeakyReLU(0.2),
            nn.Conv2d(width * mult, 1, 4, 1, 1)]
    return nn.Sequential(*seq)


MODELS = {"pix2pix256": (256, 1), "pix2pix64": (64, 16)}


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def run(name, device, iters, warmup, batch, freeze_d):
    size, default_batch = MODELS[name]
    bs = batch or default_batch
    g, d = Unet(3, 3, size), patchgan(6, size)
    g.apply(init_weights); d.apply(init_weights)
    g, d = g.to(device), d.to(device)
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    pool = [(torch.rand(bs, 3, size, size, device=device) * 2 - 1,
             torch.rand(bs, 3, size, size, device=device) * 2 - 1) for _ in range(4)]

    def step(i):
        source, target = pool[i % len(pool)]
        fake = g(source)
        real_logits = d(torch.cat([source, target], 1))
        fake_logits = d(torch.cat([source, fake.detach()], 1))
        ld = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                    + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        od.zero_grad(set_to_none=True); ld.backward(); od.step()
        if freeze_d:
            d.requires_grad_(False)
        scores = d(torch.cat([source, fake], 1))
        lg = F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores)) \
            + 100.0 * F.l1_loss(fake, target)
        og.zero_grad(set_to_none=True); lg.backward(); og.step()
        if freeze_d:
            d.requires_grad_(True)
        return ld, lg

    seconds, losses = time_steps(step, device, iters, warmup)
    report(name, device, (g, d), bs, iters, freeze_d, seconds, losses)


if __name__ == "__main__":
    main(MODELS, run)
