"""Coverage of the generalised-Pareto tail model's interval against brute-forced truths.

For three null statistics whose tail is known exactly,

- ``poisson-mls``: maximum local Poisson significance of 16-bin spectra against a known,
  falling background (2000 -> 50 events per bin), P(MLS ≥ t) = 1 − Π_b P(N_b < n_b*(t));
- ``normal-max``: maximum of 16 independent standard normals, 1 − Φ(t)^16;
- ``student-max``: maximum of 16 Student-t (4 degrees of freedom), a heavy tail (ξ = 1/4);

many independent null samples of 500 and 1000 pseudo-experiments are drawn, the tail model
is fitted to each and its 68 % interval is checked at the statistic values t_3, t_4, t_5
where the true global Z is 3, 4 and 5. Printed per row: the true t, the median
extrapolated Z, the coverage, the fraction of intervals lying wholly above the true Z
(overclaiming; nominally 16 %), the mean width of the intervals with both ends finite, the
fraction with no upper end (Z_high = inf: the region includes a bounded tail, ξ < 0, ending
below t) and the fraction that puts even the lower end at infinity (every fit in the region
ends below t). The default two-threshold interval is compared with the single-threshold
profile-likelihood interval.

Run: ``python benchmarks/bench_tail_coverage.py [--repeats 500]``.
"""

import argparse
import math
import time

import numpy as np
from scipy import optimize, special, stats

from hepcluster.stats import fit_null_tail

N_BINS = 16
BACKGROUND = 2000.0 * (50.0 / 2000.0) ** (np.arange(N_BINS) / (N_BINS - 1))
Z_LEVELS = (3.0, 4.0, 5.0)
DOF = 4


def _poisson_z_tables():
    tables = []
    for b in BACKGROUND:
        n = np.arange(int(b + 12 * np.sqrt(b) + 30), dtype=np.float64)
        tail = special.gammainc(np.maximum(n, 1.0), b)  # P(X ≥ n)
        tables.append(np.where(n > b, stats.norm.isf(tail), 0.0))
    return tables


TABLES = _poisson_z_tables()


def poisson_mls(rng, size):
    counts = rng.poisson(BACKGROUND, size=(size, N_BINS))
    z = np.empty((size, N_BINS))
    for b, table in enumerate(TABLES):
        z[:, b] = table[np.minimum(counts[:, b], table.size - 1)]
    return z.max(axis=1)


def poisson_mls_sf(t):
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    q = stats.norm.sf(t)
    log_cdf = np.zeros_like(t)
    for b in BACKGROUND:
        n_star = stats.poisson.isf(q, b) + 1
        log_cdf += stats.poisson.logcdf(n_star - 1, b)
    return -np.expm1(log_cdf)


def normal_max(rng, size):
    return rng.standard_normal((size, N_BINS)).max(axis=1)


def normal_max_sf(t):
    return -np.expm1(N_BINS * special.log_ndtr(np.atleast_1d(t)))


def student_max(rng, size):
    return rng.standard_t(DOF, size=(size, N_BINS)).max(axis=1)


def student_max_sf(t):
    return -np.expm1(N_BINS * stats.t.logcdf(np.atleast_1d(t), DOF))


def continuous_threshold(sf, z):
    target = stats.norm.sf(z)
    high = 1.0
    while sf(high)[0] > target:
        high *= 2.0
    return optimize.brentq(lambda t: math.log(sf(t)[0] / target), 0.0, high, xtol=1e-12)


def poisson_mls_threshold(z):
    """Midway between two attainable MLS values, where the true Z is closest to z."""
    atoms = np.unique(np.concatenate(TABLES))
    rough = continuous_threshold(normal_max_sf, z)
    near = atoms[(atoms > rough - 0.5) & (atoms < rough + 0.5)]
    middles = 0.5 * (near[1:] + near[:-1])
    return float(middles[np.argmin(np.abs(stats.norm.isf(poisson_mls_sf(middles)) - z))])


CASES = {
    "poisson-mls": (poisson_mls, poisson_mls_sf, poisson_mls_threshold),
    "normal-max": (normal_max, normal_max_sf, lambda z: continuous_threshold(normal_max_sf, z)),
    "student-max": (
        student_max,
        student_max_sf,
        lambda z: continuous_threshold(student_max_sf, z),
    ),
}


def run_case(name, n_null, repeats, rng, threshold_uncertainty):
    sample, sf, threshold = CASES[name]
    t = np.array([threshold(z) for z in Z_LEVELS])
    z_true = stats.norm.isf(sf(t))
    results, seconds = [], 0.0
    for null in sample(rng, repeats * n_null).reshape(repeats, n_null):
        start = time.perf_counter()
        tail = fit_null_tail(null, threshold_uncertainty=threshold_uncertainty)
        results.append(tail.significance(t))
        seconds += time.perf_counter() - start
    z, low, high = np.moveaxis(np.array(results), 1, 0)  # (repeats, 3) each
    return {
        "t": t,
        "z_true": z_true,
        "median_z": np.median(z, axis=0),
        "coverage": np.mean((low <= z_true) & (z_true <= high), axis=0),
        "above": np.mean(low > z_true, axis=0),
        "width": _mean_finite_width(low, high),
        "open": np.mean(np.isinf(high), axis=0),
        "infinite": np.mean(np.isinf(low), axis=0),
        "seconds_per_fit": seconds / repeats,
    }


def _mean_finite_width(low, high):
    finite = np.isfinite(low) & np.isfinite(high)
    width = np.where(finite, high, 0.0) - np.where(finite, low, 0.0)
    return width.sum(axis=0) / np.maximum(finite.sum(axis=0), 1)


def _cells(values, fmt):
    return " ".join(format(v, fmt) for v in values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2402_17714)
    args = parser.parse_args()
    header = (
        f"{'interval':10} {'case':12} {'N':>5} | {'true t at 3/4/5σ':>20} | "
        f"{'median Z':>17} | {'coverage':>17} | {'above true Z':>17} | "
        f"{'width if bounded':>17} | {'Z_high = inf':>17} | {'Z_low = inf':>17} | ms/fit"
    )
    print(f"68 % intervals, {args.repeats} repeats per row")
    print(header)
    print("-" * len(header))
    for threshold_uncertainty in (True, False):
        label = "2-thresh" if threshold_uncertainty else "1-thresh"
        for name in CASES:
            for n_null in (500, 1000):
                rng = np.random.default_rng([args.seed, n_null, len(name)])
                row = run_case(name, n_null, args.repeats, rng, threshold_uncertainty)
                print(
                    f"{label:10} {name:12} {n_null:5d} | {_cells(row['t'], '6.2f'):>20} | "
                    f"{_cells(row['median_z'], '5.2f'):>17} | "
                    f"{_cells(row['coverage'], '5.3f'):>17} | "
                    f"{_cells(row['above'], '5.3f'):>17} | "
                    f"{_cells(row['width'], '5.2f'):>17} | "
                    f"{_cells(row['open'], '5.2f'):>17} | "
                    f"{_cells(row['infinite'], '5.2f'):>17} | "
                    f"{1e3 * row['seconds_per_fit']:.1f}"
                )
    # Cost of evaluating a fitted (cached) model at many observed statistics.
    tail = fit_null_tail(normal_max(np.random.default_rng(0), 1000))
    tail.significance(4.0)
    t = np.linspace(3.0, 7.0, 10_000)
    start = time.perf_counter()
    tail.significance(t)
    elapsed = time.perf_counter() - start
    print(f"\nsignificance of 10,000 statistics from a fitted model: {1e3 * elapsed:.0f} ms")
    error = math.sqrt(0.68 * 0.32 / args.repeats)
    print(f"binomial error of a coverage over {args.repeats} repeats: ±{error:.3f}")


if __name__ == "__main__":
    main()
