"""The permutation streams of analyses.esda against NumPy's legacy RandomState and esda 2.9 itself, same seed.

`LegacyStream` re-implements NumPy's MT19937 and legacy shuffle in compiled kernels, and draws esda's LISA ids
by replaying the swaps backward for the first max_card slots only; these tests hold it to the draws and the
generator state NumPy produces, at sizes that cross the mask boundaries (powers of two) and the 624-output
blocks, and to esda's Moran and Moran_Local on the same data and seed (a lattice with many ties as well).
"""

from __future__ import annotations

import warnings

import esda
import libpysal
import numpy as np
import pytest
from esda.crand import vec_permutations

from analyses import esda as esda_module
from analyses.esda import LegacyStream, moran_global_arrays, moran_global_many, moran_local_arrays
from geo.weights import SpatialWeights

warnings.filterwarnings("ignore", category=DeprecationWarning)
SEED = 12345


@pytest.mark.parametrize("seed", [0, 1, SEED, 2**32 - 1])
def test_permutations_and_state_are_numpys(seed):
    rs, stream = np.random.RandomState(seed), LegacyStream(seed)
    for n in (1, 2, 3, 5, 64, 65, 624, 1000, 1025, 4097, 70_001):
        ours = stream.permuted(np.arange(n)[None, :], 3)[:, 0]
        np.testing.assert_array_equal(ours, [rs.permutation(n) for _ in range(3)], err_msg=f"n = {n}")
        key, pos = stream.state()
        _, ref_key, ref_pos, *_ = rs.get_state(legacy=True)
        assert pos == ref_pos and np.array_equal(key, ref_key), f"generator state after n = {n}"


def test_permuted_values_are_numpys_permutation_of_each_row():
    # esda's Moran permutes z itself: np.random.permutation(z); every row shares the shuffle
    Z = np.random.default_rng(2).normal(size=(3, 777))
    block = LegacyStream(SEED).permuted(Z, 4)
    for v in range(3):
        rs = np.random.RandomState(SEED)
        np.testing.assert_array_equal(block[:, v], [rs.permutation(Z[v]) for _ in range(4)])


@pytest.mark.parametrize(("n", "card"), [(5, 4), (101, 5), (1000, 8), (5000, 1), (70_001, 12), (3000, 40)])
def test_lisa_ids_are_esdas_vec_permutations(n, card):
    k = 37
    ref = vec_permutations(card, n, k, SEED)  # esda 2.9's draws for Moran_Local(seed=SEED)
    np.testing.assert_array_equal(LegacyStream(SEED).choices(n - 1, card, k), ref)
    rs = np.random.RandomState(SEED)
    legacy = np.array([rs.choice(n - 1, size=card, replace=False) for _ in range(k)])
    stream = LegacyStream(SEED)
    np.testing.assert_array_equal(stream.choices(n - 1, card, k), legacy)
    key, pos = stream.state()
    _, ref_key, ref_pos, *_ = rs.get_state(legacy=True)
    assert pos == ref_pos and np.array_equal(key, ref_key)


def test_mixed_draws_continue_one_stream():
    rs, stream = np.random.RandomState(7), LegacyStream(7)
    for n, card in ((50, 3), (3000, 6), (2, 1), (999, 9)):
        np.testing.assert_array_equal(stream.permuted(np.arange(n)[None, :], 1)[0, 0], rs.permutation(n))
        np.testing.assert_array_equal(stream.choices(n, card, 2),
                                      [rs.choice(n, size=card, replace=False) for _ in range(2)])


def test_a_different_seed_gives_different_draws():
    # the comparisons above can fail: the stream depends on the seed
    assert not np.array_equal(LegacyStream(1).choices(999, 4, 5), vec_permutations(4, 1000, 5, 2))


def _lattice(rows: int, cols: int) -> tuple[libpysal.weights.W, SpatialWeights]:
    pw = libpysal.weights.lat2W(rows, cols, rook=False)
    pw.transform = "r"
    return pw, SpatialWeights.from_libpysal(pw)


def test_global_moran_of_many_columns_is_esda_per_column(monkeypatch):
    pw, sw = _lattice(30, 40)
    rng = np.random.default_rng(5)
    Y = np.column_stack([rng.normal(size=1200), rng.lognormal(size=1200), rng.integers(0, 4, 1200).astype(float)])
    monkeypatch.setattr(esda_module, "_CHUNK_ELEMENTS", 20_000)  # blocks of a few permutations
    monkeypatch.setattr(esda_module, "_OVERLAP_MIN", 0)  # drawn in the producer thread
    many = moran_global_many(sw, Y, permutations=199, seed=SEED)
    for j in range(Y.shape[1]):
        np.random.seed(SEED)
        ref = esda.Moran(Y[:, j], pw, permutations=199)
        one = moran_global_arrays(sw, Y[:, j], permutations=199, seed=SEED)
        assert many[j] == one
        assert one["p_sim"] == ref.p_sim and one["EI_sim"] == ref.EI_sim and one["seI_sim"] == ref.seI_sim


@pytest.mark.parametrize("workers", [1, 2])
def test_local_moran_with_many_ties_is_esda(workers):
    # integer values on a queen lattice (row-standardised): many simulated I_i equal the observed one, so the
    # pseudo p-values depend on esda's exact floating-point order; 2,400 units split between two threads
    pw, sw = _lattice(40, 60)
    rng = np.random.default_rng(11)
    Y = np.column_stack([rng.integers(0, 3, 2400).astype(float), rng.normal(size=2400)])
    ours = moran_local_arrays(sw, Y, permutations=99, seed=SEED, workers=workers)
    for j in range(Y.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = esda.Moran_Local(Y[:, j], pw, transformation="r", permutations=99, seed=SEED, n_jobs=1)
        np.testing.assert_array_equal(ours["p_sim"][:, j], ref.p_sim)
        np.testing.assert_array_equal(ours["q"][:, j], ref.q)
        np.testing.assert_allclose(ours["EI_sim"][:, j], ref.EI_sim, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ours["seI_sim"][:, j], ref.seI_sim, rtol=1e-12, atol=1e-15)


def test_global_and_local_at_once_equal_the_separate_calls():
    _, sw = _lattice(30, 40)
    Y = np.random.default_rng(4).normal(size=(1200, 2))
    glob, local = esda_module.moran_global_and_local(sw, Y, permutations=99, seed=SEED)
    assert glob == moran_global_many(sw, Y, permutations=99, seed=SEED)
    separate = moran_local_arrays(sw, Y, permutations=99, seed=SEED)
    for key in ("Is", "p_sim", "EI_sim", "seI_sim"):
        np.testing.assert_array_equal(local[key], separate[key])
