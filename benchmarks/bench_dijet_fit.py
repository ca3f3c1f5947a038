"""Benchmark the likelihood fit of the dijet function against variance-weighted least squares.

On background-only toy spectra of N events (default 300 toys each for N = 1500, 2000 and
5000) drawn from the synthetic generator's dijet function over 2.5–7 TeV, binned in 16
equal bins over 2.5–7 TeV and in the default 16 bins over 3.0–4.6 TeV (fewer events,
narrower x range: where least squares failed), the 4-parameter dijet function is fitted by

- baseline: variance-weighted least squares (σ_b = √max(N_b, 1)) with scipy's
  trust-region-reflective ``least_squares``, from the log-linear start, p0 fitted as
  log p0 — the method ``DijetFitBackground`` used before it became a likelihood fit;
- ours: ``DijetFitBackground`` (extended binned Poisson likelihood, iminuit MIGRAD +
  HESSE, several starts).

For each it reports the fits flagged as failed (baseline: ``least_squares`` not
successful; ours: ``converged_`` False), the diverged ones (p0 ≤ 0, non-finite or run
to the edge of double precision, non-finite expected counts, Poisson χ²/ndf > 10 or
MLS > 10), the diverged ones reported as successful ("silent"), the fits without a
finite MLS and the time per fit (and its ratio to the baseline's, for the estimator's
fit + test statistic and for the minimiser alone). Both methods are judged by the same Poisson
deviance and the same MLS function (``hepcluster.stats.local_significance``, Poisson
statistic); the baseline's MLS is computed as the old estimator did, ours is
``DijetFitBackground.test_statistic``.

Run: ``python benchmarks/bench_dijet_fit.py`` (about a minute on 2 cores);
``--quick`` for a smoke run.
"""

import argparse
import time
import warnings

import numpy as np
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning

from hepcluster import DijetFitBackground
from hepcluster.datasets import sample_dijet_spectrum
from hepcluster.fits import bin_integrals
from hepcluster.fits._background import N_STARTS
from hepcluster.fits._likelihood import log_linear_start, minimise_deviance, poisson_deviance
from hepcluster.stats import CLUSTER_SCANNING_BINS, local_significance

MJJ_RANGE = (2500.0, 7000.0)
BINNINGS = {
    "16 bins over 2.5–7 TeV": np.linspace(*MJJ_RANGE, 17),
    "16 bins over 3.0–4.6 TeV (default)": np.asarray(CLUSTER_SCANNING_BINS),
}
SQRT_S = 13000.0
N_PARAMS = 4


def least_squares_fit(counts, edges, n_params=N_PARAMS, max_nfev=2000):
    """The previous method: variance-weighted least squares (TRF), p0 as log p0."""
    sigma = np.sqrt(np.maximum(counts, 1.0))

    def residuals(theta):
        params = np.concatenate([[np.exp(theta[0])], theta[1:]])
        with np.errstate(over="ignore", invalid="ignore"):
            expected = bin_integrals(edges, params, SQRT_S)
        return np.nan_to_num((counts - expected) / sigma, nan=1e10, posinf=1e10, neginf=-1e10)

    theta0 = log_linear_start(counts, edges, SQRT_S, n_params)
    with np.errstate(over="ignore", invalid="ignore"):
        solution = optimize.least_squares(
            residuals, theta0, method="trf", x_scale="jac", max_nfev=max_nfev
        )
        params = np.concatenate([[np.exp(solution.x[0])], solution.x[1:]])
    success = bool(solution.success) and bool(np.all(np.isfinite(solution.x)))
    return params, success


def judge(counts, edges, params, mls=None):
    """(diverged, MLS finite, MLS) of a fit, the same measures for both methods.

    ``mls`` is the method's own test statistic; None computes it as the old estimator did.
    """
    ndf = edges.size - 1 - N_PARAMS
    with np.errstate(over="ignore", invalid="ignore"):
        expected = bin_integrals(edges, params, SQRT_S)
    if mls is None:
        try:
            mls = float(local_significance(counts, expected).max(initial=0.0))
        except ValueError:  # "observed and expected counts must be finite"
            mls = np.nan
    finite = bool(np.all(np.isfinite(params)) and np.all(np.isfinite(expected)))
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2_ndf = poisson_deviance(counts, expected) / ndf
    # p0 ran to 0 or ∞: at the edge of double precision (e^±700), or beyond
    runaway = not 1e-304 < params[0] < 1e304
    diverged = not finite or runaway or not chi2_ndf <= 10.0 or not mls <= 10.0
    return bool(diverged), bool(np.isfinite(mls)), mls


def run_least_squares(spectra, edges):
    start = time.perf_counter()
    fits = [(*least_squares_fit(counts, edges), None, None) for counts in spectra]
    return fits, time.perf_counter() - start


def run_likelihood(spectra, edges):
    centres = 0.5 * (edges[1:] + edges[:-1])
    fits = []
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for counts in spectra:
            fit = DijetFitBackground(n_params=N_PARAMS, bins=edges)
            fit.fit(None, centres, sample_weight=counts)
            score = fit.test_statistic(None, centres, sample_weight=counts)
            fits.append((fit.params_, fit.converged_, score, "log p0" in fit.at_limit_))
    return fits, time.perf_counter() - start


def time_minimiser(spectra, edges):
    """Seconds of the likelihood minimisation alone (no validation, no histogram)."""
    start = time.perf_counter()
    for counts in spectra:
        minimise_deviance(counts, edges, SQRT_S, N_PARAMS, n_starts=N_STARTS)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--toys", type=int, default=300, help="toy spectra per sample size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1500, 2000, 5000])
    parser.add_argument("--quick", action="store_true", help="30 toys, smoke test")
    args = parser.parse_args()
    if args.quick:
        args.toys = 30
    print(
        f"{args.toys} toys per size, m_jj drawn over {MJJ_RANGE[0]:g}–{MJJ_RANGE[1]:g} GeV, "
        f"{N_PARAMS}-parameter dijet function"
    )
    header = (
        f"{'N':>6} {'method':<14} {'failed':>7} {'diverged':>9} {'silent':>7} "
        f"{'no MLS':>7} {'p0 limit':>9} {'median MLS':>11} {'ms/fit':>8}"
    )
    for binning, edges in BINNINGS.items():
        print(f"\n{binning}")
        print(header)
        print("-" * len(header))
        for n_events in args.sizes:
            spectra = [
                np.histogram(sample_dijet_spectrum(n_events, MJJ_RANGE, random_state=seed), edges)
                for seed in range(args.toys)
            ]
            spectra = [counts.astype(float) for counts, _ in spectra]
            rows = {
                "least squares": run_least_squares(spectra, edges),
                "likelihood": run_likelihood(spectra, edges),
            }
            for method, (fits, seconds) in rows.items():
                failed = diverged = silent = no_mls = at_limit = 0
                mls_values = []
                for counts, (params, success, score, limited) in zip(spectra, fits, strict=True):
                    bad, finite_mls, mls = judge(counts, edges, params, score)
                    failed += not success
                    diverged += bad
                    silent += bad and success
                    no_mls += not finite_mls
                    at_limit = "-" if limited is None else at_limit + limited
                    if finite_mls:
                        mls_values.append(mls)
                print(
                    f"{n_events:>6} {method:<14} {failed:>7} {diverged:>9} {silent:>7} "
                    f"{no_mls:>7} {at_limit:>9} {np.median(mls_values):>11.2f} "
                    f"{1e3 * seconds / len(spectra):>8.2f}"
                )
            core = time_minimiser(spectra, edges)
            baseline = rows["least squares"][1]
            print(
                f"{'':>6} time per fit, likelihood / least squares: "
                f"{rows['likelihood'][1] / baseline:.2f} (estimator fit + test statistic), "
                f"{core / baseline:.2f} (minimiser alone)"
            )
    print(
        "\nfailed: flagged by the method (least squares: not successful; likelihood: "
        "converged_ False); diverged: p0 ≤ 0, non-finite or run to the edge of double "
        "precision (outside 1e-304–1e304), Poisson χ²/ndf > 10 or MLS > 10; silent: "
        "diverged but reported as successful; no MLS: the MLS is not finite or cannot be "
        "computed (the old estimator raised for non-finite expected counts); p0 limit: "
        "fits that end at |log p0| = 600 (the likelihood minimum lies beyond, where p0 "
        "is no double-precision number)."
    )


if __name__ == "__main__":
    main()
