#!/usr/bin/env python3
"""Peer imputers on the holes `ganforge impute --remove F --holed HOLED.csv` made.

Reads the complete table and the holed one (same header, removed cells empty), fills the
holes with mean imputation and scikit-learn's IterativeImputer and KNNImputer(5), and prints
one JSON line per method with the GAIN paper's RMSE: over the removed cells, each column
min-max scaled by the complete table, (x - min) / (max - min + 1e-6). Integer columns of the
complete table are rounded after imputation, as `ganforge impute` rounds them.

    python benches/peer/impute_peers.py --complete letter.csv --holed holed.csv [--seed 0]

Needs numpy and scikit-learn.
"""

import argparse
import csv
import json
import time

import numpy as np
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    body = [[float(c) if c.strip() not in ("", "NA", "NaN", "nan") else np.nan for c in r]
            for r in rows[1:]]
    return np.array(body, dtype=np.float64)


def rmse(complete, imputed, removed):
    low = complete.min(axis=0)
    scale = complete.max(axis=0) - low + 1e-6
    err = ((complete - imputed) / scale)[removed]
    return float(np.sqrt(np.mean(err ** 2)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--complete", required=True)
    parser.add_argument("--holed", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    complete = read(args.complete)
    holed = read(args.holed)
    removed = np.isnan(holed) & ~np.isnan(complete)
    integer = np.all(complete == np.round(complete), axis=0)
    methods = {
        "mean": lambda: SimpleImputer(strategy="mean"),
        "iterative-imputer": lambda: IterativeImputer(random_state=args.seed, max_iter=10),
        "knn-imputer-5": lambda: KNNImputer(n_neighbors=5),
    }
    for name, make in methods.items():
        start = time.perf_counter()
        imputed = make().fit_transform(holed)
        seconds = time.perf_counter() - start
        rounded = np.where(integer, np.round(imputed), imputed)
        print(json.dumps({
            "method": name,
            "seed": args.seed,
            "removed_cells": int(removed.sum()),
            "rmse": rmse(complete, rounded, removed),
            "rmse_unrounded": rmse(complete, imputed, removed),
            "seconds": seconds,
        }), flush=True)


if __name__ == "__main__":
    main()
