"""Jet images: single jets and averages per class (Cluster Scanning, arXiv:2402.17714)."""

import math

import numpy as np

from ..images import SparseImages
from ..utils import import_optional
from ._style import hep_style, pyplot

#: Most single-jet panels drawn in one call; average per class for more jets.
MAX_SINGLE_PANELS = 64

#: Lowest intensity shown on the logarithmic scale, relative to the brightest pixel.
LOG_RANGE = 1e-5

#: Columns of the panel grid when the function makes its own figure.
_MAX_COLUMNS = 4


def _as_square_images(images, n_pixels):
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        if images.shape[1] != images.shape[2]:
            raise ValueError(f"images must be square, got shape {images.shape}.")
        return images
    if images.ndim == 1:
        images = images[None, :]
    if images.ndim != 2:
        raise ValueError(
            "images must have shape (n_jets, n_pixels**2) or (n_jets, n_pixels, n_pixels), "
            f"got {images.shape}."
        )
    side = n_pixels if n_pixels is not None else math.isqrt(images.shape[1])
    if side * side != images.shape[1]:
        raise ValueError(
            f"{images.shape[1]} columns are not the flattened n_pixels x n_pixels image"
            + ("" if n_pixels is None else f" with n_pixels={n_pixels}")
            + "."
        )
    return images.reshape(-1, side, side)


def _class_name(label, class_names):
    if class_names is None:
        return str(label)
    if isinstance(class_names, dict):
        return str(class_names.get(label, label))
    return str(class_names[int(label)])


def _panels(images, labels, average, class_names, n_pixels):
    """Return (list of 2-D images, list of titles) to draw."""
    sparse = isinstance(images, SparseImages)
    n_jets = len(images) if sparse else np.shape(images)[0]
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n_jets,):
            raise ValueError(f"labels must have shape ({n_jets},), got {labels.shape}.")
    if average:
        groups = [(None, np.ones(n_jets, dtype=bool))]
        if labels is not None:
            groups = [(label, labels == label) for label in np.unique(labels)]
        pictures, titles = [], []
        for label, mask in groups:
            if sparse:
                side = images.n_pixels
                mean = images[mask].mean(smear=True).reshape(side, side)
            else:
                mean = _as_square_images(np.asarray(images)[mask], n_pixels).mean(axis=0)
            pictures.append(mean)
            name = "all jets" if label is None else _class_name(label, class_names)
            titles.append(f"{name} (mean of {int(mask.sum())})")
        return pictures, titles
    if n_jets > MAX_SINGLE_PANELS:
        raise ValueError(
            f"{n_jets} single-jet panels requested (at most {MAX_SINGLE_PANELS}); pass a "
            "few jets, or average=True for the average image per class."
        )
    dense = images.to_dense() if sparse else images
    pictures = list(_as_square_images(dense, n_pixels))
    titles = [
        f"jet {i}" + ("" if labels is None else f" ({_class_name(labels[i], class_names)})")
        for i in range(n_jets)
    ]
    return pictures, titles


def plot_jet_images(
    images,
    *,
    labels=None,
    average=True,
    class_names=None,
    extent=None,
    n_pixels=None,
    log=True,
    cmap="viridis",
    colorbar=True,
    ax=None,
):
    """Draw jet images: the average image per class, or single jets.

    The horizontal axis is η' and the vertical axis φ' of the image frame of
    :class:`~hepcluster.JetImageTransformer` (after centring, rotation of the
    principal axis onto η' and flipping of the hardest quadrant to (+, +)). Panels share
    one colour scale so that classes can be compared.

    Parameters
    ----------
    images : ndarray of shape (n_jets, n_pixels**2) or (n_jets, n_pixels, n_pixels), \
or SparseImages
        Output of ``transform`` (flattened, η' slow) or of ``transform_sparse`` (averages
        are then smeared like the dense images).
    labels : array-like of shape (n_jets,), optional
        Class of each jet (e.g. truth signal/background, or k-means cluster).
    average : bool, default=True
        ``True``: one panel per class (one panel in all without ``labels``) showing the
        average image. ``False``: one panel per jet (at most
        ``MAX_SINGLE_PANELS``), titled with its class when ``labels`` are given.
    class_names : dict or sequence, optional
        Names of the labels in the titles (``{0: "QCD", 1: "signal"}``).
    extent : float, optional
        Half-width of the image in η' and φ'; taken from ``SparseImages``, else 0.8
        (the transformer's default).
    n_pixels : int, optional
        Pixels per side; inferred from the width when omitted.
    log : bool, default=True
        Logarithmic colour scale (jet images span several orders of magnitude), down to
        ``LOG_RANGE`` times the brightest pixel; empty pixels stay blank.
    cmap : str, default="viridis"
        Matplotlib colour map.
    colorbar : bool, default=True
        Add one colour bar for all panels.
    ax : matplotlib.axes.Axes or array-like of Axes, optional
        Where to draw: one axes per panel. A new figure with up to four panels per row
        is made otherwise.

    Returns
    -------
    axes : ndarray of matplotlib.axes.Axes
        One axes per panel, in the order of the sorted class labels (or of the jets).

    Examples
    --------
    >>> import numpy as np
    >>> from hepcluster.images import JetImageTransformer
    >>> from hepcluster.plotting import plot_jet_images
    >>> rng = np.random.default_rng(0)
    >>> X = np.abs(rng.normal(0.0, 0.2, size=(40, 30)))
    >>> images = JetImageTransformer(n_pixels=20).fit_transform(X)
    >>> axes = plot_jet_images(images, labels=np.arange(40) % 2,
    ...                        class_names={0: "QCD", 1: "signal"})
    >>> [a.get_title() for a in axes]
    ['QCD (mean of 20)', 'signal (mean of 20)']
    """
    plt = pyplot()
    colors = import_optional("matplotlib.colors", extra="plot")
    if isinstance(images, SparseImages):
        n_pixels = images.n_pixels
        extent = images.extent if extent is None else extent
    extent = 0.8 if extent is None else float(extent)
    pictures, titles = _panels(images, labels, average, class_names, n_pixels)
    n_panels = len(pictures)

    with hep_style():
        if ax is None:
            n_cols = min(n_panels, _MAX_COLUMNS)
            n_rows = math.ceil(n_panels / n_cols)
            fig, axes = plt.subplots(
                n_rows,
                n_cols,
                figsize=(5.0 * n_cols + 1.5, 4.8 * n_rows),
                squeeze=False,
                layout="constrained",
            )
            axes = axes.ravel()
            for extra in axes[n_panels:]:
                extra.set_visible(False)
            axes = axes[:n_panels]
        else:
            axes = np.ravel(np.asarray(ax, dtype=object))
            if axes.size != n_panels:
                raise ValueError(f"{n_panels} panel(s) to draw but {axes.size} axes given.")
            fig = axes[0].figure

        stack = np.stack(pictures)
        vmax = float(stack.max()) if stack.size else 1.0
        vmax = vmax if vmax > 0 else 1.0
        if log:
            positive = stack[stack > 0]
            vmin = max(float(positive.min()) if positive.size else vmax, vmax * LOG_RANGE)
            norm = colors.LogNorm(vmin=vmin, vmax=vmax)
        else:
            norm = colors.Normalize(vmin=0.0, vmax=vmax)

        mappable = None
        for axis, picture, title in zip(axes, pictures, titles, strict=True):
            shown = np.where(picture > 0, picture, np.nan) if log else picture
            mappable = axis.imshow(
                shown.T,
                origin="lower",
                extent=(-extent, extent, -extent, extent),
                norm=norm,
                cmap=cmap,
                interpolation="nearest",
                aspect="equal",
            )
            ticks = np.linspace(-extent, extent, 5)
            axis.set_xticks(ticks, [f"{tick:.2g}" for tick in ticks])
            axis.set_yticks(ticks, [f"{tick:.2g}" for tick in ticks])
            axis.set_xlabel(r"$\eta'$ (dimensionless)")
            axis.set_ylabel(r"$\phi'$ [rad]")
            axis.set_title(title, fontsize="small")
        if colorbar and mappable is not None:
            fig.colorbar(mappable, ax=list(axes), label="pixel intensity", shrink=0.85)
    return axes
