"""pytorch-fid's side of the scoring benchmark (`benches/benches/scoring.rs`): pool3 features
of its FID Inception-v3 per second, and Fréchet distances of 2048-dimensional feature sets per
second (numpy.cov of both sets, then pytorch-fid's calculate_frechet_distance, which takes the
matrix square root with scipy.linalg.sqrtm). The same weights file, picture size, batch size
and set sizes as ganforge's side; one JSON line per task.

Usage: python benches/peer/torch_scoring.py --weights PATH [--pictures 100] [--rows 3000]
       [--threads N]  (needs torch, torchvision, pytorch-fid, scipy)
"""
import argparse, json, pathlib, sys, time

import numpy as np
import torch
from pytorch_fid.fid_score import calculate_frechet_distance

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
from inception_fixture import feature_network, random_fid_inception  # noqa: E402

BATCH, SIDE = 25, 32


def features_per_s(weights, pictures):
    net = random_fid_inception()
    net.load_state_dict(torch.load(weights), strict=False)
    model = feature_network(net)
    gen = torch.Generator().manual_seed(0)
    batch = lambda: torch.rand(BATCH, 3, SIDE, SIDE, generator=gen)
    batches = -(-pictures // BATCH)
    with torch.no_grad():
        model(batch())
        t0 = time.perf_counter()
        for _ in range(batches):
            model(batch())[0].numpy()
    return batches * BATCH / (time.perf_counter() - t0)


def frechet_per_s(rows):
    rng = np.random.default_rng(0)
    a, b = rng.random((rows, 2048)), rng.random((rows, 2048))
    t0 = time.perf_counter()
    stats = [(x.mean(0), np.cov(x, rowvar=False)) for x in (a, b)]
    d = calculate_frechet_distance(*stats[0], *stats[1])
    assert np.isfinite(d)
    return 1.0 / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights")
    p.add_argument("--pictures", type=int, default=100)
    p.add_argument("--rows", type=int, default=3000)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    common = {"peer": "pytorch-fid", "torch": torch.__version__, "threads": torch.get_num_threads()}
    if a.weights:
        rate = features_per_s(a.weights, a.pictures)
        print(json.dumps({"task": "inception-features", "per_s": rate, "pictures": a.pictures, **common}), flush=True)
    rate = frechet_per_s(a.rows)
    print(json.dumps({"task": "frechet-2048", "per_s": rate, "rows": a.rows, **common}), flush=True)


if __name__ == "__main__":
    main()
