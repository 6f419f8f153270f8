"""Writes crates/metrics/tests/fixtures/metrics.json: feature sets and the scores that the
reference implementations the papers' users run give for them.

- Frechet distance: pytorch-fid's `calculate_frechet_distance` (scipy.linalg.sqrtm), on
  numpy.mean / numpy.cov statistics, and the same distance in 50-digit arithmetic (mpmath);
  a well-conditioned case, a near-singular one (fewer samples than features) and one with
  features of very different scales.
- KID: torch-fidelity's `kid_features_to_metric` with one subset holding every sample, so the
  subset draw does not matter.
- Precision, recall (k = 3), density and coverage (k = 5): the `prdc` package (Naeem et al.).
- Inception Score: torch-fidelity's `isc_features_to_metric` on logits, 10 splits, unshuffled;
  the fixture holds the softmax probabilities.

Usage: pip install torch scipy pytorch-fid prdc torch-fidelity
       python scripts/metric_fixtures.py
"""

import json
import pathlib

import mpmath
import numpy as np
import torch
from prdc import compute_prdc
from pytorch_fid.fid_score import calculate_frechet_distance
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

rng = np.random.default_rng(0)


def correlated(n, d, shift, scale=1.0):
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mixing + shift) * scale


def exact_frechet(a, b):
    """The distance in 50-digit arithmetic (mpmath), as the yardstick for both."""
    mpmath.mp.dps = 50

    def stats(x):
        x = mpmath.matrix(x.tolist())
        n, d = x.rows, x.cols
        mean = [mpmath.fsum(x[i, j] for i in range(n)) / n for j in range(d)]
        cov = mpmath.matrix(d, d)
        for j in range(d):
            for k in range(d):
                cov[j, k] = mpmath.fsum((x[i, j] - mean[j]) * (x[i, k] - mean[k])
                                        for i in range(n)) / (n - 1)
        return mean, cov

    (ma, sa), (mb, sb) = stats(a), stats(b)
    e, q = mpmath.eigsy(sa)
    root = q * mpmath.diag([mpmath.sqrt(max(v, 0)) for v in e]) * q.T
    middle = root * sb * root
    middle = (middle + middle.T) / 2
    trace_root = mpmath.fsum(mpmath.sqrt(max(v, 0)) for v in mpmath.eigsy(middle)[0])
    trace = lambda m: mpmath.fsum(m[i, i] for i in range(m.rows))
    value = (mpmath.fsum((x - y) ** 2 for x, y in zip(ma, mb)) + trace(sa) + trace(sb)
             - 2 * trace_root)
    return float(value)


def frechet_case(name, a, b):
    stats = [(x.mean(axis=0), np.cov(x, rowvar=False)) for x in (a, b)]
    value = calculate_frechet_distance(stats[0][0], stats[0][1], stats[1][0], stats[1][1])
    return {"name": name, "dim": a.shape[1], "a": a.ravel().tolist(), "b": b.ravel().tolist(),
            "scipy": float(value), "exact": exact_frechet(a, b)}


def main():
    d = 8
    frechet = [
        frechet_case("well-conditioned", correlated(120, d, 0.0), correlated(90, d, 0.5)),
        frechet_case("fewer samples than features", correlated(6, d, 0.0), correlated(5, d, 0.3)),
        frechet_case("mixed scales", correlated(100, d, 0.0) * np.logspace(-3, 3, d),
                     correlated(80, d, 0.2) * np.logspace(-3, 3, d)),
    ]

    kid_a, kid_b = correlated(100, d, 0.0), correlated(100, d, 0.4)
    kid = kid_features_to_metric(
        torch.from_numpy(kid_a), torch.from_numpy(kid_b), kid_subsets=1, kid_subset_size=100,
        kid_degree=3, kid_gamma=None, kid_coef0=1, kid_kernel="poly", rng_seed=0, verbose=False)

    real, fake = correlated(150, d, 0.0), correlated(120, d, 0.3)
    pr = compute_prdc(real, fake, nearest_k=3)
    dc = compute_prdc(real, fake, nearest_k=5)

    logits = rng.normal(size=(100, 10)) * 3.0
    isc = isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=False)
    probs = torch.from_numpy(logits).softmax(dim=1).numpy()

    out = {
        "frechet": frechet,
        "kid": {"dim": d, "a": kid_a.ravel().tolist(), "b": kid_b.ravel().tolist(),
                "mean": float(kid["kernel_inception_distance_mean"])},
        "prdc": {"dim": d, "real": real.ravel().tolist(), "fake": fake.ravel().tolist(),
                 "precision": float(pr["precision"]), "recall": float(pr["recall"]),
                 "density": float(dc["density"]), "coverage": float(dc["coverage"])},
        "inception_score": {"classes": 10, "probabilities": probs.ravel().tolist(),
                            "mean": isc["inception_score_mean"], "std": isc["inception_score_std"]},
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "crates/metrics/tests/fixtures/metrics.json"
    path.write_text(json.dumps(out) + "\n")
    print(f"wrote {path}")
    for case in frechet:
        print(case["name"], case["scipy"], case["exact"])
    print("kid", out["kid"]["mean"], "prdc", pr, dc, "is", isc)


if __name__ == "__main__":
    main()
