#!/usr/bin/env python3
"""GAIN in ganforge beside peer imputers, on the same holes: the README's imputation table.

For each table and seed, `ganforge impute --remove F --seed S --holed HOLED.csv` removes a
fraction F of the cells completely at random, imputes them with GAIN and reports the RMSE;
then mean imputation and scikit-learn's IterativeImputer and KNNImputer(5) fill the very same
holes (read back from HOLED.csv). Every RMSE is the GAIN paper's: over the removed cells, each
column min-max scaled by the complete table, (x - min) / (max - min + 1e-6). Integer columns
of the complete table are rounded after imputation, as `ganforge impute` rounds them.

    python benches/peer/impute_peers.py --ganforge target/release/ganforge \\
        --data $GANFORGE_DATA/uci --tables letter spam --seeds 5

Prints one JSON line per run, then a Markdown table (mean +- standard deviation over the
seeds, and the mean seconds per run). Needs numpy and scikit-learn.
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

# ganforge's GAIN settings in the table: the paper's, and with observed cells held out.
GAIN_VARIANTS = {
    "GAIN (ganforge, reference settings)": [],
    "GAIN (ganforge, holdout 0.5, hidden 128)": [
        "--set", "gain.holdout=0.5", "--set", "gain.hidden=128"],
    "GAIN (ganforge, holdout 0.5, hidden 128, 30,000 iterations)": [
        "--set", "gain.holdout=0.5", "--set", "gain.hidden=128", "--set", "gain.iterations=30000"],
}

PEERS = {
    "mean imputation": lambda seed: SimpleImputer(strategy="mean"),
    "IterativeImputer (scikit-learn)": lambda seed: IterativeImputer(random_state=seed, max_iter=10),
    "KNNImputer(5) (scikit-learn)": lambda seed: KNNImputer(n_neighbors=5),
}


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return np.array([[float(c) if c.strip() else np.nan for c in r] for r in rows[1:]])


def rmse(complete, imputed, removed):
    low = complete.min(axis=0)
    scale = complete.max(axis=0) - low + 1e-6
    err = ((complete - imputed) / scale)[removed]
    return float(np.sqrt(np.mean(err ** 2)))


def run_gain(ganforge, table, fraction, seed, holed, extra):
    out = subprocess.run(
        [ganforge, "impute", "--data", table, "--remove", str(fraction), "--seed", str(seed),
         "--holed", holed, "--log-every", "0", *extra],
        check=True, capture_output=True, text=True)
    report = json.loads(out.stdout)
    return report["rmse"], report["seconds"]


def run_peer(make, seed, complete, holed_path):
    holed = read(holed_path)
    removed = np.isnan(holed) & ~np.isnan(complete)
    integer = np.all(complete == np.round(complete), axis=0)
    start = time.perf_counter()
    imputed = make(seed).fit_transform(holed)
    seconds = time.perf_counter() - start
    return rmse(complete, np.where(integer, np.round(imputed), imputed), removed), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ganforge", required=True, help="the ganforge binary")
    parser.add_argument("--data", required=True, help="directory holding <table>.csv")
    parser.add_argument("--tables", nargs="+", default=["letter", "spam"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--remove", type=float, default=0.2)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tables:
            table = os.path.join(args.data, f"{name}.csv")
            complete = read(table)
            for seed in range(args.seeds):
                holed = os.path.join(tmp, f"{name}-{seed}.csv")
                runs = {}
                for i, (label, extra) in enumerate(GAIN_VARIANTS.items()):
                    # every variant removes the same cells (same seed): keep the first file
                    path = holed if i == 0 else os.path.join(tmp, "other.csv")
                    runs[label] = run_gain(args.ganforge, table, args.remove, seed, path, extra)
                for label, make in PEERS.items():
                    runs[label] = run_peer(make, seed, complete, holed)
                for label, (score, seconds) in runs.items():
                    print(json.dumps({"table": name, "seed": seed, "method": label,
                                      "rmse": score, "seconds": seconds}), flush=True)
                    results.setdefault((label, name), []).append((score, seconds))
    print()
    print("| method | " + " | ".join(f"{t} RMSE | {t} s/run" for t in args.tables) + " |")
    print("|---|" + "---|---|" * len(args.tables))
    for label in [*GAIN_VARIANTS, *PEERS]:
        cells = []
        for name in args.tables:
            scores = [s for s, _ in results[(label, name)]]
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            cells.append(f"{statistics.mean(scores):.4f} +- {spread:.4f}")
            cells.append(f"{statistics.mean(t for _, t in results[(label, name)]):.1f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
