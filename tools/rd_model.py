"""The recall an ideal quantizer would reach at a given bit budget: a yardstick
for `tqdb bench` recall (README, "Choosing bits and method").

The model: the data's residuals (after IVF centroids from k-means, or after
the mean with --nlist 1) are Gaussian with their measured covariance, and the
code is the rate-distortion optimum for that law (reverse water-filling over
the covariance's eigenvalues: every axis gets distortion min(theta, lambda_j),
sum_j 1/2 log2(lambda_j / D_j) = bits * dim). Its reconstruction is drawn from
the optimal test channel (x = x_hat + z, z independent of x_hat), queries are
ranked by <q, x_hat> and 10-recall@10 is measured against the ground truth.
No scalar or vector quantizer of the same rate has a smaller mean squared
error on a Gaussian law; a real set is not Gaussian, so this is a yardstick,
not a proof: a coder that exploits structure beyond the covariance can beat
it.

  python3 tools/rd_model.py BASE.fvecs QUERIES.fvecs GT.ivecs \
      [--metric cosine|ip] [--nlist N] [--bits 4,5,6] [--seed S]

Needs Debian's python3-numpy; not part of tools/test.sh.
"""
import argparse

import numpy as np


def read_fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    d = int(a[0])
    return a.reshape(-1, d + 1)[:, 1:].view(np.float32).astype(np.float32)


def read_ivecs(path):
    a = np.fromfile(path, dtype=np.int32)
    d = int(a[0])
    return a.reshape(-1, d + 1)[:, 1:]


def kmeans(x, nlist, iters, rng):
    """Lloyd's k-means; returns each row's centroid."""
    c = x[rng.choice(len(x), nlist, replace=False)].copy()
    assign = np.zeros(len(x), dtype=np.int64)
    for _ in range(iters):
        cc = (c * c).sum(1)
        for s in range(0, len(x), 20000):
            d = cc[None, :] - 2.0 * (x[s:s + 20000] @ c.T)
            assign[s:s + 20000] = d.argmin(1)
        counts = np.bincount(assign, minlength=nlist)
        sums = np.zeros_like(c, dtype=np.float64)
        np.add.at(sums, assign, x)
        full = counts > 0
        c[full] = (sums[full] / counts[full, None]).astype(np.float32)
    return c[assign]


def water_fill(lam, total_bits):
    """Per-axis distortion D_j = min(theta, lambda_j) spending total_bits."""
    lo, hi = 1e-30, float(lam.max())
    for _ in range(200):
        theta = np.sqrt(lo * hi)
        rate = 0.5 * np.log2(lam / np.minimum(theta, lam)).sum()
        if rate > total_bits:
            lo = theta
        else:
            hi = theta
    return np.minimum(hi, lam)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("base")
    p.add_argument("queries")
    p.add_argument("gt")
    p.add_argument("--metric", default="cosine", choices=["cosine", "ip"])
    p.add_argument("--nlist", type=int, default=1)
    p.add_argument("--bits", default="2,3,4,5,6")
    p.add_argument("--iters", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    x, q = read_fvecs(a.base), read_fvecs(a.queries)
    gt = read_ivecs(a.gt)[:, :10]
    if a.metric == "cosine":
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
    rng = np.random.default_rng(a.seed)
    if a.nlist > 1:
        cent = kmeans(x, a.nlist, a.iters, rng)
    else:
        cent = np.broadcast_to(x.mean(0, keepdims=True), x.shape)
    r = x - cent
    lam, basis = np.linalg.eigh(np.cov(r.T, bias=True))
    lam = np.maximum(lam, 1e-30)
    y = r @ basis
    print("n=%d d=%d nlist=%d residual variance a dimension %.3e" %
          (len(x), x.shape[1], a.nlist, lam.mean()))
    print("bits/dim  MSE/dim    10-R@10")
    for bits in [float(b) for b in a.bits.split(",")]:
        dist = water_fill(lam, bits * x.shape[1])
        keep = (lam - dist) / lam  # the test channel: x_hat = keep * y + n
        y_hat = keep * y + rng.standard_normal(y.shape) * np.sqrt(keep * dist)
        x_hat = cent + y_hat @ basis.T
        hits = 0
        for s in range(0, len(q), 100):
            scores = q[s:s + 100] @ x_hat.T
            top = np.argpartition(-scores, 10, axis=1)[:, :10]
            for i, row in enumerate(top):
                hits += len(set(row.tolist()) & set(gt[s + i].tolist()))
        print("%8.2f  %.3e  %.4f" % (bits, dist.mean(), hits / (10.0 * len(q))),
              flush=True)


if __name__ == "__main__":
    main()
