"""plot_jet_images: panels, averages per class, single jets, sparse input, axes handling."""

import numpy as np
import pytest

from hepcluster.images import JetImageTransformer
from hepcluster.plotting import plot_jet_images

plt = pytest.importorskip(
    "matplotlib.pyplot", reason='needs matplotlib: pip install "hepcluster[plot]"'
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def jets():
    rng = np.random.default_rng(11)
    n_jets, n_slots = 60, 12
    pt = rng.exponential(30.0, (n_jets, n_slots)) + 1.0
    pt[:, 8:] = 0.0  # padding
    eta = rng.normal(0.0, 0.25, (n_jets, n_slots))
    phi = rng.normal(0.0, 0.25, (n_jets, n_slots))
    return np.stack([pt, eta, phi], axis=-1).reshape(n_jets, -1)


@pytest.fixture(scope="module")
def transformer(jets):
    return JetImageTransformer(n_pixels=16).fit(jets)


def shown(axis):
    return np.ma.filled(axis.images[0].get_array(), 0.0).T


def test_average_per_class_draws_the_class_means(jets, transformer):
    images = transformer.transform(jets)
    labels = np.where(np.arange(60) < 20, "signal", "QCD")
    axes = plot_jet_images(images, labels=labels, log=False)
    assert len(axes) == 2
    assert [a.get_title() for a in axes] == [
        "QCD (mean of 40)",
        "signal (mean of 20)",
    ]
    np.testing.assert_allclose(shown(axes[0]), images[20:].mean(axis=0).reshape(16, 16))
    np.testing.assert_allclose(shown(axes[1]), images[:20].mean(axis=0).reshape(16, 16))
    assert axes[0].get_xlabel() == r"$\eta'$ (dimensionless)"
    assert axes[0].get_ylabel() == r"$\phi'$ [rad]"
    assert axes[0].images[0].get_extent() == [-0.8, 0.8, -0.8, 0.8]


def test_average_of_sparse_images_matches_dense(jets, transformer):
    dense_axes = plot_jet_images(transformer.transform(jets), log=False)
    sparse_axes = plot_jet_images(transformer.transform_sparse(jets), log=False)
    assert len(sparse_axes) == 1
    np.testing.assert_allclose(shown(sparse_axes[0]), shown(dense_axes[0]), atol=1e-12)


def test_single_jets_one_panel_each_with_class_names(jets, transformer):
    images = transformer.transform(jets[:5])
    axes = plot_jet_images(
        images, labels=[0, 1, 0, 1, 1], average=False, class_names=["QCD", "signal"], log=True
    )
    assert len(axes) == 5
    assert axes[1].get_title() == "jet 1 (signal)"
    picture = images[3].reshape(16, 16)
    np.testing.assert_allclose(shown(axes[3]), np.where(picture > 0, picture, 0.0))
    norm = axes[0].images[0].norm
    assert norm.vmax == pytest.approx(images.max())
    assert norm.vmin > 0


def test_draws_on_given_axes_and_checks_their_number(jets, transformer):
    images = transformer.transform(jets[:2])
    _, given = plt.subplots(1, 2)
    axes = plot_jet_images(images, average=False, ax=given, colorbar=False)
    assert list(axes) == list(given)
    _, single = plt.subplots()
    assert plot_jet_images(images, ax=single)[0] is single
    with pytest.raises(ValueError, match="2 panel"):
        plot_jet_images(images, average=False, ax=single)


def test_rejects_bad_shapes_and_too_many_single_jets(jets, transformer):
    with pytest.raises(ValueError, match="not the flattened"):
        plot_jet_images(np.ones((3, 10)))
    with pytest.raises(ValueError, match="labels must have shape"):
        plot_jet_images(np.ones((3, 16)), labels=[0, 1])
    with pytest.raises(ValueError, match="single-jet panels"):
        plot_jet_images(transformer.transform(np.tile(jets, (2, 1))), average=False)


def test_three_dimensional_images_are_accepted(jets, transformer):
    images = transformer.transform(jets).reshape(-1, 16, 16)
    axes = plot_jet_images(images, extent=0.5, log=False)
    np.testing.assert_allclose(shown(axes[0]), images.mean(axis=0))
    assert axes[0].images[0].get_extent() == [-0.5, 0.5, -0.5, 0.5]
