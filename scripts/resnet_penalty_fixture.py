"""Writes crates/trainer/tests/fixtures/resnet-penalties.json: reference values of the WGAN-GP
and R1 penalties of ganforge's `sngan-resnet` discriminator and their gradients with respect to
every critic weight, from PyTorch's double backward (torch.autograd.grad with
create_graph=True), in float64.

The critic is SNGAN's residual discriminator at 32x32 (the optimised first block, a down-block,
two plain blocks, ReLU, sum over the pixels, Linear(1)), narrow, without spectral norm.
Weights are written in burn's layout (convolutions [out, in, k, k] as PyTorch; Linear weight
[in, out]), in the order ganforge's modules visit them: per block conv1, conv2, then the
shortcut convolution where the block has one (weight, then bias), then the head.

Usage: python scripts/resnet_penalty_fixture.py  (needs torch)
"""

import json
import pathlib

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)

SIZE, CHANNELS, WIDTH, BATCH = 32, 3, 4, 3
LAMBDA, GAMMA = 10.0, 10.0
KINDS = ["first", "down", "plain", "plain"]


def conv(c_in, c_out, k):
    weight = torch.randn(c_out, c_in, k, k) * (2.0 / (c_in * k * k)) ** 0.5
    bias = torch.randn(c_out) * 0.1
    return [weight.requires_grad_(True), bias.requires_grad_(True)]


def critic():
    """Per block [conv1 w, b, conv2 w, b, (shortcut w, b)], then the head's [w, b]."""
    blocks = []
    c_in = CHANNELS
    for kind in KINDS:
        params = conv(c_in, WIDTH, 3) + conv(WIDTH, WIDTH, 3)
        if kind != "plain":
            params += conv(c_in, WIDTH, 1)
        blocks.append(params)
        c_in = WIDTH
    head = [
        (torch.randn(1, WIDTH) * 0.5).requires_grad_(True),
        (torch.randn(1) * 0.1).requires_grad_(True),
    ]
    return blocks, head


def score(blocks, head, x):
    h = x
    for kind, params in zip(KINDS, blocks):
        w1, b1, w2, b2 = params[:4]
        r = h if kind == "first" else F.relu(h)
        r = F.conv2d(F.relu(F.conv2d(r, w1, b1, padding=1)), w2, b2, padding=1)
        if kind == "first":
            r, s = F.avg_pool2d(r, 2), F.conv2d(F.avg_pool2d(h, 2), params[4], params[5])
        elif kind == "down":
            r, s = F.avg_pool2d(r, 2), F.avg_pool2d(F.conv2d(h, params[4], params[5]), 2)
        else:
            s = h
        h = r + s
    features = F.relu(h).sum(dim=(2, 3))
    return features @ head[0].t() + head[1]


def input_gradient(blocks, head, x):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(score(blocks, head, x).sum(), x, create_graph=True)
    return g.flatten(1)


def burn_layout(tensors):
    """The head's weight transposed to burn's [in, out]; the rest as PyTorch lays them out."""
    out = [t.detach().flatten().tolist() for t in tensors[:-2]]
    out.append(tensors[-2].detach().t().contiguous().flatten().tolist())
    out.append(tensors[-1].detach().flatten().tolist())
    return out


def main():
    blocks, head = critic()
    params = [p for block in blocks for p in block] + head
    real = torch.rand(BATCH, CHANNELS, SIZE, SIZE) * 2 - 1
    fake = torch.rand(BATCH, CHANNELS, SIZE, SIZE) * 2 - 1
    mix = torch.rand(BATCH, 1, 1, 1)

    def grads_of(value):
        grads = torch.autograd.grad(value, params, allow_unused=True)
        return burn_layout([torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)])

    g = input_gradient(blocks, head, mix * real + (1 - mix) * fake)
    gp = LAMBDA * ((g.norm(2, dim=1) - 1) ** 2).mean()
    g = input_gradient(blocks, head, real)
    r1 = GAMMA / 2 * g.pow(2).sum(1).mean()
    fixture = {
        "size": SIZE,
        "channels": CHANNELS,
        "width": WIDTH,
        "batch": BATCH,
        "lambda": LAMBDA,
        "gamma": GAMMA,
        "torch": torch.__version__,
        "weights": burn_layout(params),
        "real": real.flatten().tolist(),
        "fake": fake.flatten().tolist(),
        "mix": mix.flatten().tolist(),
        "gradient_penalty": gp.item(),
        "gradient_penalty_grads": grads_of(gp),
        "r1": r1.item(),
        "r1_grads": grads_of(r1),
    }
    path = (
        pathlib.Path(__file__).resolve().parent.parent
        / "crates/trainer/tests/fixtures/resnet-penalties.json"
    )
    path.write_text(json.dumps(fixture) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
