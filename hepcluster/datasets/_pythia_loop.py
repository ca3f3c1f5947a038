"""The Pythia8 event loop of one chunk, clustering with FastJet, and running the chunks.

Every chunk runs in one (worker) process with its own Pythia instance and seed: Pythia's
awkward-array interface (``Pythia.nextBatch``) hands whole batches of events to numpy, and
:mod:`._clustering` clusters a batch in one FastJet call. :func:`run_chunks` runs the chunks
through joblib, in order, with a progress bar.
"""

import numpy as np

from ..utils import progress
from ._clustering import (
    cluster_dijets,
    cluster_jets,
    concatenate_columns,
    dijet_columns,
    gather_constituents,
)
from ._lhco import LHCO_N_PARTICLES
from ._pythia_settings import make_pythia

# Neutrinos leave no trace in a detector; every other final-state particle is clustered.
_INVISIBLE_IDS = (12, 14, 16)
# A chunk gives up when the selection keeps less than one event in this many.
_MAX_TRIES_PER_EVENT = 50
MIN_JET_PT = 20.0
# Jets of generate_pythia_jets: parton matching radius and largest |η|.
_MATCH_RADIUS = 0.6
_JET_MAX_ETA = 2.5


def chunk_sizes(total, chunk_size):
    """Sizes of the chunks of ``total`` items, ``chunk_size`` each but the last."""
    return [min(chunk_size, total - start) for start in range(0, total, chunk_size)]


def iter_chunks(function, arguments, *, n_events, n_jobs, desc, unit, ordered=True):
    """Yield ``function(*args)`` of every chunk as the worker processes finish them.

    ``ordered=False`` yields each chunk as soon as it is done (whatever its position);
    every output's ``n_items`` advances the progress bar.
    """
    from sklearn.utils.parallel import Parallel, delayed

    with progress(total=n_events, desc=desc, unit=unit) as bar:
        outputs = Parallel(
            n_jobs=n_jobs, return_as="generator" if ordered else "generator_unordered"
        )(delayed(function)(*args) for args in arguments)
        for output in outputs:
            yield output
            bar.update(output["n_items"])


def run_chunks(function, arguments, *, n_events, n_jobs, desc, unit):
    """Run ``function(*args)`` for every chunk in worker processes, in order."""
    return list(
        iter_chunks(function, arguments, n_events=n_events, n_jobs=n_jobs, desc=desc, unit=unit)
    )


def _visible_final_state(batch):
    """Flat (pT, η, φ) and counts of the visible final-state particles of a batch."""
    import awkward as ak

    particles = batch.prt
    event = np.repeat(np.arange(len(particles)), ak.to_numpy(ak.num(particles)))
    pid = np.abs(ak.to_numpy(ak.flatten(particles.id)))
    status = ak.to_numpy(ak.flatten(particles.status))
    px, py, pz = (ak.to_numpy(ak.flatten(particles.p[name])) for name in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    visible = (status > 0) & ~np.isin(pid, _INVISIBLE_IDS) & (pt > 0)
    counts = np.bincount(event[visible], minlength=len(particles)).astype(np.int64)
    pt, px, py, pz = pt[visible], px[visible], py[visible], pz[visible]
    return pt, np.arcsinh(pz / pt), np.arctan2(py, px), counts


def _batches(pythia, n_wanted, select):
    """Draw batches from Pythia until ``select`` has accepted ``n_wanted`` items.

    ``select(batch, n_missing)`` returns how many items it accepted from the batch.
    Returns the number of events tried and the number Pythia failed to generate.
    """
    n_tried = n_failed = n_accepted = 0
    while n_accepted < n_wanted:
        if n_tried >= _MAX_TRIES_PER_EVENT * n_wanted + 100:
            raise RuntimeError(
                f"the selection kept {n_accepted} of {n_tried} Pythia events; "
                "check the cuts and masses."
            )
        n_request = max(n_wanted - n_accepted, 1)
        batch = pythia.nextBatch(n_request)
        n_tried += n_request
        n_failed += n_request - len(batch)
        if len(batch):
            n_accepted += select(batch, n_wanted - n_accepted)
    return n_tried, n_failed


def event_chunk(settings, n_events, seed, config):
    """Generate, cluster and select ``n_events`` dijet events in one process."""
    import awkward as ak

    pythia = make_pythia(settings, seed, config["sqrt_s"])
    parts, weights, particle_lists = [], [], []
    tally = {
        "cut": 0,
        "cut_leading_pt": 0,
        "truncated": 0,
        "jets_truncated": 0,
        "particles_truncated": 0,
    }
    min_leading_pt = config.get("min_leading_jet_pt") or 0.0

    def select(batch, n_missing):
        pt, eta, phi, counts = _visible_final_state(batch)
        clustering = cluster_dijets(
            pt,
            eta,
            phi,
            counts,
            jet_radius=config["jet_radius"],
            n_constituents=config["n_constituents"],
            min_jet_pt=MIN_JET_PT,
            max_jet_eta=config["max_jet_eta"],
        )
        tally["cut"] += int((~clustering.keep).sum())
        leading_pt = np.hypot(clustering.jet_p4[:, 0, 0], clustering.jet_p4[:, 0, 1])
        passing = np.flatnonzero(leading_pt > min_leading_pt)
        tally["cut_leading_pt"] += int(leading_pt.shape[0] - passing.shape[0])
        passing = passing[:n_missing]
        kept = np.flatnonzero(clustering.keep)[passing]
        clustering = clustering._replace(
            keep=np.isin(np.arange(len(counts)), kept),
            constituents=clustering.constituents[passing],
            jet_p4=clustering.jet_p4[passing],
        )
        tally["truncated"] += clustering.n_constituents_truncated
        tally["jets_truncated"] += clustering.n_jets_truncated
        parts.append(dijet_columns(clustering, jet_radius=config["jet_radius"]))
        event_weights = ak.to_numpy(ak.firsts(batch.info.weights)).astype(np.float64)
        weights.append(event_weights[kept])
        if config["keep_particles"]:
            lists, n_dropped = _hardest_particles(pt, eta, phi, counts, kept)
            particle_lists.append(lists)
            tally["particles_truncated"] += n_dropped
        return len(kept)

    n_tried, n_failed = _batches(pythia, n_events, select)
    result = {
        "n_items": n_events,
        "columns": concatenate_columns(parts, config["n_constituents"]),
        "weight": np.concatenate(weights),
        "n_tried": n_tried,
        "n_failed": n_failed,
        "n_cut_fewer_than_two_jets": tally["cut"],
        "n_cut_leading_jet_pt": tally["cut_leading_pt"],
        "n_constituents_truncated": tally["truncated"],
        "n_jets_truncated": tally["jets_truncated"],
        "sigma_gen_mb": float(pythia.infoPython().sigmaGen()),
    }
    if config["keep_particles"]:
        result["particles"] = np.concatenate(particle_lists)
        result["n_particles_truncated"] = tally["particles_truncated"]
    return result


def _hardest_particles(pt, eta, phi, counts, events):
    """(n, 700, 3) float32 arrays of the hardest particles of the given events."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.zeros((len(events), LHCO_N_PARTICLES, 3), dtype=np.float32)
    n_dropped = 0
    for row, event in enumerate(events):
        block = slice(starts[event], starts[event] + counts[event])
        order = np.argsort(-pt[block], kind="stable")
        n_dropped += max(order.shape[0] - LHCO_N_PARTICLES, 0)
        order = order[:LHCO_N_PARTICLES]
        out[row, : order.shape[0]] = np.stack(
            [pt[block][order], eta[block][order], phi[block][order]], axis=1
        )
    return out, n_dropped


def _parton_directions(batch, parton_id):
    """(η, φ) of the last copies of the bosons/tops with |id| = ``parton_id``, per event."""
    import awkward as ak

    particles = batch.prt
    first_daughter = ak.where(particles.daughter1 > 0, particles.daughter1, 0)
    daughter_id = particles.id[first_daughter]
    last_copy = (abs(particles.id) == parton_id) & (abs(daughter_id) != parton_id)
    momenta = particles.p[last_copy]
    pt = np.hypot(momenta.px, momenta.py)
    return np.arcsinh(momenta.pz / pt), np.arctan2(momenta.py, momenta.px)


def jet_chunk(settings, parton_id, n_jets, seed, config):
    """Generate ``n_jets`` jets of one class in one process."""
    import awkward as ak

    pythia = make_pythia(settings, seed, config["sqrt_s"])
    blocks = []

    def select(batch, n_missing):
        pt, eta, phi, counts = _visible_final_state(batch)
        jets, constituent_index = cluster_jets(
            pt, eta, phi, counts, jet_radius=config["jet_radius"], min_jet_pt=MIN_JET_PT
        )
        p4 = jets[:, :2] if parton_id is None else jets
        index = constituent_index[:, :2] if parton_id is None else constituent_index
        jet_pt = np.hypot(p4.px, p4.py)
        jet_eta = np.arcsinh(p4.pz / jet_pt)
        jet_phi = np.arctan2(p4.py, p4.px)
        good = (jet_pt > config["pt_min"]) & (jet_pt < config["pt_max"])
        good = good & (abs(jet_eta) < _JET_MAX_ETA)
        if parton_id is not None:
            parton_eta, parton_phi = _parton_directions(batch, parton_id)
            pairs_jet = ak.cartesian([jet_eta, parton_eta], nested=True)
            pairs_phi = ak.cartesian([jet_phi, parton_phi], nested=True)
            d_eta = pairs_jet["0"] - pairs_jet["1"]
            d_phi = (pairs_phi["0"] - pairs_phi["1"] + np.pi) % (2 * np.pi) - np.pi
            matched = ak.any(d_eta**2 + d_phi**2 < _MATCH_RADIUS**2, axis=2)
            good = good & matched
        flat_good = ak.to_numpy(ak.flatten(good))
        event = np.repeat(np.arange(len(counts)), ak.to_numpy(ak.num(good)))[flat_good]
        event = event[:n_missing]
        indices = ak.flatten(index, axis=1)[np.flatnonzero(flat_good)[:n_missing]]
        constituents, _, _ = gather_constituents(
            pt, eta, phi, counts, event, indices, config["n_constituents"]
        )
        blocks.append(constituents)
        return constituents.shape[0]

    n_tried, n_failed = _batches(pythia, n_jets, select)
    return {
        "n_items": n_jets,
        "constituents": np.concatenate(blocks),
        "n_tried": n_tried,
        "n_failed": n_failed,
    }
