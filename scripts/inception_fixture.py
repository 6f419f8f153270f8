"""Writes a parity fixture for ganforge's FID Inception-v3: a randomly initialised network of
pytorch-fid (its FIDInception blocks, bilinear resize to 299, input scaled to [-1, 1], pool3
features) as a state dict in the layout of the published weight file, some pictures, and the
features pytorch-fid computes for them.

The published weights cannot be downloaded everywhere; the architecture, the key names, the
resize and the normalisation are what a port has to get right, and a random network with the
same structure checks all of them. BatchNorm statistics are calibrated on random pictures and
then perturbed, so every layer's statistics matter and activations stay of order one through
the whole depth; the final layer's bias is large, so logits that wrongly include it show.

Output directory:
  weights.pth          the state dict, zip format (torch.save's default)
  weights-legacy.pth   the same, legacy pickle format (as older weight files are)
  rgb.f32, grey.f32    pictures in [0, 1], little-endian float32, NCHW
  rgb.features.f32,    pytorch-fid's pool3 features of each, float32, [N, 2048]
  grey.features.f32
  rgb.logits.f32,      their class logits as the Inception Score's original code takes them:
  grey.logits.f32      features times the final layer's weights, without its bias
                       (torch-fidelity's `logits_unbiased`), float32, [N, 1008]
  manifest.json        shapes

Usage: python scripts/inception_fixture.py OUT_DIR  (needs torch, torchvision, pytorch-fid)
"""

import json
import pathlib
import sys

import torch
from pytorch_fid import inception as fid

SEED = 20261207
RGB_SHAPE = (3, 3, 32, 32)
GREY_SHAPE = (2, 1, 28, 28)


def random_fid_inception():
    """pytorch-fid's fid_inception_v3() without downloading its weights."""
    net = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
    return net


def feature_network(net):
    """pytorch-fid's InceptionV3 (2048-d pool3 block) around a given network."""
    original = fid.fid_inception_v3
    fid.fid_inception_v3 = lambda: net
    try:
        model = fid.InceptionV3([fid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    finally:
        fid.fid_inception_v3 = original
    return model.eval()


def calibrate(model, net, generator):
    """Sets every BatchNorm's running statistics from random pictures, then perturbs them."""
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(4, 3, 64, 64, generator=generator))
    model.eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_mean.add_(0.05 * torch.randn(n, generator=generator))
                module.running_var.mul_(0.8 + 0.4 * torch.rand(n, generator=generator))
        # A bias of the logits' own scale, so that logits that wrongly include it differ.
        net.fc.bias.copy_(50.0 * torch.randn(net.fc.out_features, generator=generator))


def smooth_pictures(shape, generator):
    """Pictures with structure at several scales, in [0, 1]."""
    n, c, h, w = shape
    coarse = torch.rand(n, c, h // 4, w // 4, generator=generator)
    up = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    fine = torch.rand(n, c, h, w, generator=generator)
    return (0.8 * up + 0.2 * fine).clamp(0.0, 1.0)


def features(model, pictures):
    x = pictures if pictures.shape[1] == 3 else pictures.repeat(1, 3, 1, 1)
    with torch.no_grad():
        return model(x)[0].reshape(pictures.shape[0], -1)


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    net = random_fid_inception()
    model = feature_network(net)
    calibrate(model, net, generator)

    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, out / "weights.pth")
    torch.save(state, out / "weights-legacy.pth", _use_new_zipfile_serialization=False)

    manifest = {"seed": SEED}
    for name, shape in [("rgb", RGB_SHAPE), ("grey", GREY_SHAPE)]:
        pictures = smooth_pictures(shape, generator)
        feats = features(model, pictures)
        with torch.no_grad():
            logits = feats @ net.fc.weight.T
        pictures.numpy().astype("<f4").tofile(out / f"{name}.f32")
        feats.numpy().astype("<f4").tofile(out / f"{name}.features.f32")
        logits.numpy().astype("<f4").tofile(out / f"{name}.logits.f32")
        manifest[name] = {"shape": list(shape), "features": list(feats.shape)}
        manifest[name]["feature_std"] = float(feats.std())
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {out}: {json.dumps(manifest)}")


if __name__ == "__main__":
    main()
