"""The mini-batch k-means loop (D. Sculley, WWW 2010), as scikit-learn's MiniBatchKMeans runs it.

:func:`run_minibatch` is ``sklearn.cluster.MiniBatchKMeans.fit`` (``n_init=1``,
``init="k-means++"``, sklearn/cluster/_kmeans.py) step for step — k-means++ on a
weighted subsample, weighted random mini-batches, per-centre learning rates from the
accumulated weights, reassignment of starved centres, early stopping on the smoothed
batch inertia — written against a data back end rather than an array, so that it runs
on sparse jet images without forming the dense smeared rows
(:class:`~hepcluster.scanning._smeared_rows.SparseRows`; Cluster Scanning,
arXiv:2402.17714, §3). The public entry point is
:func:`~hepcluster.scanning._kmeans.minibatch_kmeans`.
"""

import logging

import numpy as np

from . import _kmeans_kernels
from ._kmeans_result import MiniBatchKMeansResult
from ._seeding import kmeans_plusplus

logger = logging.getLogger(__name__)


def run_minibatch(
    data,
    weight,
    n_clusters,
    *,
    batch_size,
    max_iter,
    max_no_improvement,
    tol,
    reassignment_ratio,
    init_size,
    n_local_trials,
    compute_labels,
    random_state,
):
    """Fit mini-batch k-means to the rows of ``data``.

    Parameters
    ----------
    data : SparseRows or an object with its interface
        The rows; ``data.unsmeared`` says whether ``data.smeared(centers)`` maps the
        centres the loop keeps into another space (then both are returned).
    weight : ndarray of shape (n_rows,)
        Validated non-negative row weights, at least ``n_clusters`` of them positive.
    n_clusters : int
    batch_size, max_iter, max_no_improvement, tol, reassignment_ratio, init_size, \
n_local_trials, compute_labels
        As in :func:`~hepcluster.scanning._kmeans.minibatch_kmeans`.
    random_state : numpy.random.RandomState
        The only source of randomness, consumed in a fixed order: the k-means++
        subsample, the seeds, then per step the mini-batch and any reassignment.

    Returns
    -------
    MiniBatchKMeansResult
    """
    n_rows = data.n_rows
    positive = np.flatnonzero(weight > 0)
    n_samples = positive.shape[0]
    batch = min(batch_size, n_samples)
    if init_size is None:
        init_size = 3 * batch
        if init_size < n_clusters:
            init_size = 3 * n_clusters
    elif init_size < n_clusters:
        init_size = 3 * n_clusters
    init_size = min(init_size, n_samples)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))

    # Weighted draws with replacement, as RandomState.choice(p=...) does them.
    cdf = np.cumsum(weight[positive])
    cdf /= cdf[-1]

    def draw(size):
        # Sorted draws: a faster search and memory access in row order; the order of
        # the rows in a mini-batch does not matter to the algorithm.
        picks = cdf.searchsorted(np.sort(random_state.random_sample(size)), side="right")
        np.minimum(picks, n_samples - 1, out=picks)
        return positive[picks]

    tolerance = tol * data.mean_variance(weight) if tol > 0 else 0.0

    subsample = draw(init_size)
    seeds = kmeans_plusplus(data.subsample(subsample), n_clusters, random_state, n_local_trials)
    centers = data.rows_dense(subsample[seeds])
    weight_sums = np.zeros(n_clusters)
    sums = np.empty_like(centers)
    counts = np.empty(n_clusters)
    state = data.prepare(centers.copy() if tolerance > 0 else centers)

    n_steps = (max_iter * n_samples) // batch
    alpha = min(batch * 2.0 / (n_samples + 1), 1.0)
    ewa_inertia = None
    ewa_inertia_min = None
    no_improvement = 0
    since_reassign = 0
    step = 0
    for step in range(n_steps):
        # scikit-learn decides on reassignment before the step.
        since_reassign += batch
        reassign = False
        if (weight_sums == 0).any() or since_reassign >= 10 * n_clusters:
            since_reassign = 0
            reassign = True

        rows = draw(batch)
        _, best = data.step(rows, state, sums, counts)
        distances = data.sq_norms[rows] - 2.0 * best
        np.maximum(distances, 0.0, out=distances)
        batch_inertia = distances.sum()

        _kmeans_kernels.apply_update(centers, weight_sums, sums, counts)
        if reassign and reassignment_ratio > 0:
            _reassign(data, rows, centers, weight_sums, reassignment_ratio, random_state)
        new_state = data.prepare(centers.copy() if tolerance > 0 else centers)
        shift = data.squared_shift(state, new_state) if tolerance > 0 else 0.0
        state = new_state

        # Early stopping (scikit-learn's _mini_batch_convergence).
        batch_inertia /= batch
        if step == 0:
            continue
        if ewa_inertia is None:
            ewa_inertia = batch_inertia
        else:
            ewa_inertia = ewa_inertia * (1.0 - alpha) + batch_inertia * alpha
        if tolerance > 0 and shift <= tolerance:
            logger.debug("converged (small centre shift) at step %d", step + 1)
            break
        if ewa_inertia_min is None or ewa_inertia < ewa_inertia_min:
            no_improvement = 0
            ewa_inertia_min = ewa_inertia
        else:
            no_improvement += 1
        if max_no_improvement is not None and no_improvement >= max_no_improvement:
            logger.debug("converged (no inertia improvement) at step %d", step + 1)
            break
    n_done = step + 1

    all_labels = None
    if compute_labels:
        all_labels, best = data.assign(np.arange(n_rows, dtype=np.int64), state)
        distances = data.sq_norms - 2.0 * best
        np.maximum(distances, 0.0, out=distances)
        inertia = float(weight @ distances)
    else:
        per_row = ewa_inertia if ewa_inertia is not None else batch_inertia
        inertia = float(per_row * weight.sum())
    smeared_centers = data.smeared(centers)

    return MiniBatchKMeansResult(
        centers=smeared_centers,
        unsmeared_centers=centers if data.unsmeared else None,
        labels=all_labels,
        inertia=inertia,
        n_steps=n_done,
        n_iter=int(np.ceil(n_done * batch / n_samples)),
        counts=weight_sums,
    )


def _reassign(data, rows, centers, weight_sums, ratio, random_state):
    """Move starved centres onto random rows of the mini-batch (scikit-learn's rule)."""
    to_reassign = weight_sums < ratio * weight_sums.max()
    # at most half a batch of new centres
    if to_reassign.sum() > 0.5 * rows.shape[0]:
        keep = np.argsort(weight_sums)[int(0.5 * rows.shape[0]) :]
        to_reassign[keep] = False
    n_reassign = int(to_reassign.sum())
    if n_reassign == 0 or to_reassign.all():
        return
    picks = random_state.choice(rows.shape[0], replace=False, size=n_reassign)
    centers[to_reassign] = data.rows_dense(rows[picks])
    logger.debug("reassigning %d cluster centres", n_reassign)
    # Not reset too small, to avoid instant reassignment (this also lowers their
    # learning rate, as in scikit-learn).
    weight_sums[to_reassign] = np.min(weight_sums[~to_reassign])
