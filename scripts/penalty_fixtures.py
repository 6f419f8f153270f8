"""Writes crates/trainer/tests/fixtures/penalties.json: reference values of the WGAN-GP and R1
penalties and their gradients with respect to every critic weight, from PyTorch's double
backward (torch.autograd.grad with create_graph=True), in float64.

The critic is ganforge's `toy-mlp` discriminator (Linear -> LeakyReLU(0.2), twice, then
Linear(1)), unconditional and with projection conditioning. Weights are written in burn's
layout (Linear weight [in, out]), in the order ganforge's modules visit them.

Usage: python scripts/penalty_fixtures.py  (needs torch)
"""

import json
import pathlib

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)

WIDTH, DEPTH, CLASSES, BATCH, POINT = 8, 2, 3, 5, 2
LAMBDA, GAMMA = 10.0, 10.0


def critic():
    dims = [POINT] + [WIDTH] * DEPTH + [1]
    return [torch.nn.Linear(a, b) for a, b in zip(dims, dims[1:])]


def features(layers, x):
    h = x
    for layer in layers[:-1]:
        h = F.leaky_relu(layer(h), 0.2)
    return h


def score(layers, embedding, x, labels):
    f = features(layers, x)
    out = layers[-1](f)
    if embedding is not None:
        out = out + (embedding[labels] * f).sum(1, keepdim=True)
    return out


def params(layers, embedding):
    ps = []
    for layer in layers:
        ps += [layer.weight, layer.bias]
    if embedding is not None:
        ps.append(embedding)
    return ps


def burn_layout(layers, embedding):
    """The weights as ganforge visits them: per layer weight [in, out] then bias."""
    out = []
    for layer in layers:
        out.append(layer.weight.detach().t().contiguous().flatten().tolist())
        out.append(layer.bias.detach().flatten().tolist())
    if embedding is not None:
        out.append(embedding.detach().flatten().tolist())
    return out


def input_gradient(layers, embedding, x, labels):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(score(layers, embedding, x, labels).sum(), x, create_graph=True)
    return g


def grads_of(value, ps):
    """d value / d each of ps; zeros for those it does not depend on (the last bias)."""
    grads = torch.autograd.grad(value, ps, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(ps, grads)]


def case(conditional):
    layers = critic()
    embedding = torch.randn(CLASSES, WIDTH) * 0.3 if conditional else None
    if embedding is not None:
        embedding.requires_grad_(True)
    real = torch.randn(BATCH, POINT)
    fake = torch.randn(BATCH, POINT)
    mix = torch.rand(BATCH, 1)
    labels = torch.tensor([0, 2, 1, 1, 0])
    ps = params(layers, embedding)

    point = mix * real + (1 - mix) * fake
    g = input_gradient(layers, embedding, point, labels)
    gp = LAMBDA * ((g.norm(2, dim=1) - 1) ** 2).mean()
    gp_grads = grads_of(gp, ps)

    g = input_gradient(layers, embedding, real, labels)
    r1 = GAMMA / 2 * g.pow(2).sum(1).mean()
    r1_grads = grads_of(r1, ps)

    def flat(grads):
        # Linear weight gradients transposed to burn's layout, like the weights.
        out = []
        for i, grad in enumerate(grads):
            if i < 2 * len(layers) and i % 2 == 0:
                grad = grad.t().contiguous()
            out.append(grad.flatten().tolist())
        return out

    return {
        "conditional": conditional,
        "weights": burn_layout(layers, embedding),
        "real": real.flatten().tolist(),
        "fake": fake.flatten().tolist(),
        "mix": mix.flatten().tolist(),
        "labels": labels.tolist(),
        "gradient_penalty": gp.item(),
        "gradient_penalty_grads": flat(gp_grads),
        "r1": r1.item(),
        "r1_grads": flat(r1_grads),
    }


def main():
    fixture = {
        "width": WIDTH,
        "depth": DEPTH,
        "classes": CLASSES,
        "batch": BATCH,
        "lambda": LAMBDA,
        "gamma": GAMMA,
        "torch": torch.__version__,
        "cases": [case(False), case(True)],
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "crates/trainer/tests/fixtures/penalties.json"
    path.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
