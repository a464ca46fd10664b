"""Entropy phase RTL (`hw/entropy.py`) against the golden model, Amaranth simulator.

Embeddings from the fixed-point pipeline (`tsne_fixed` on digits classes and on random integer
features) and hand-made edge cases: the histogram (read back through the unit's port), G and the
entropy (Q.h_frac) equal `entropy_fixed` bit for bit; cycles equal
`phase_schedule.entropy_cycles`; hand cases also against hand-computed values.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from golden_model import entropy_fixed as ef
from golden_model import fixed as fx
from golden_model import phase_schedule as ps
from golden_model import reference as ref
from golden_model import tsne_fixed as tf
from golden_model.config import get_preset
from hw.phase_sim import fixed_embedding, run_entropy


def _cfg(preset):
    # a short t-SNE schedule: the embedding only has to be a realistic one, not a converged one
    return get_preset(preset).with_overrides(tsne_iters=60, tsne_exaggeration_iters=20)


def mismatches(cfg, rtl, Y, G=None) -> list:
    """Names of the results differing from the golden model (G: the reference grid side)."""
    n = len(Y)
    G = ref.entropy_grid_side(n, cfg) if G is None else G
    bad = []
    if rtl["G"] != G:
        bad.append("G")
    hist = ef.histogram(Y, G, cfg)
    if rtl["hist"].shape != hist.shape or not np.array_equal(rtl["hist"], hist):
        bad.append("hist")
    if rtl["h"] != ef.entropy_from_counts(hist, cfg):
        bad.append("h")
    return bad


def _digits(n, digit):
    X, y = load_digits(return_X_y=True)
    return X[y == digit][:n].astype(np.int64)


CASES = [("tiny", "digits", 24, 3), ("tiny", "random", 9, 1), ("small", "digits", 40, 7),
         ("small", "random", 64, 2), ("digits", "digits", 183, 3)]


@pytest.mark.parametrize("preset,data,n,seed", CASES)
def test_entropy_bit_and_cycle_exact(preset, data, n, seed):
    cfg = _cfg(preset)
    if data == "digits":
        X = _digits(n, seed)
    else:
        X = np.random.default_rng(seed).integers(0, 1 << cfg.feature_bits, size=(n, 6))
    Y = fixed_embedding(X, cfg, seed=seed)
    rtl = run_entropy(cfg, Y)
    assert mismatches(cfg, rtl, Y) == []
    assert rtl["cycles"] == ps.entropy_cycles(n, cfg)


def test_hand_cases():
    """Hand-computed: all points identical (both axes constant: one cell, H = 0); one constant
    axis (cells by the other axis only: 2 + 2 + 1 on a 2 x 2 grid); two equal halves (H = 1 bit)."""
    cfg = get_preset("tiny")
    one = 1 << cfg.y_frac
    Y = np.full((6, 2), -3 * one, dtype=np.int64)
    r = run_entropy(cfg, Y)
    assert r["G"] == 2 and r["hist"].tolist() == [6, 0, 0, 0] and r["h"] == 0
    # x = 0, 1, 2, 3, 4 (span 4: cells 0, 0, 1, 1, 1 -- 2/4 -> cell 1, the maximum clamped), y constant
    Y = np.array([[i * one, 5 * one] for i in range(5)], dtype=np.int64)
    r = run_entropy(cfg, Y)
    assert r["hist"].tolist() == [2, 3, 0, 0]
    # 8 points: 4 at (0, 0), 4 at (1, 1): H = log2 8 - (4 log2 4 + 4 log2 4) / 8 = 1 bit exactly
    Y = np.array([[0, 0]] * 4 + [[one, one]] * 4, dtype=np.int64)
    r = run_entropy(cfg, Y)
    assert r["hist"].tolist() == [4, 0, 0, 4] and r["h"] == 1 << cfg.h_frac
    assert r["cycles"] == ps.entropy_cycles(8, cfg)


def test_extreme_coordinates_and_single_point():
    """The saturation corners +-y_limit (widest divider operands) and N = 1 (G = 2, H = 0)."""
    cfg = get_preset("tiny")
    lim = tf.y_limit(cfg)
    rng = np.random.default_rng(4)
    Y = rng.integers(-lim, lim + 1, size=(21, 2))
    Y[0], Y[1] = [lim, -lim], [-lim, lim]
    rtl = run_entropy(cfg, Y)
    assert mismatches(cfg, rtl, Y) == []
    r1 = run_entropy(cfg, Y[:1])
    assert r1["G"] == 2 and r1["h"] == 0 and r1["hist"].tolist() == [1, 0, 0, 0]
    assert r1["cycles"] == ps.entropy_cycles(1, cfg)


def test_back_to_back_runs_clear_the_counters():
    """A second run on the same embedding gives the same histogram and entropy (CLEAR), in the
    same cycles."""
    cfg = get_preset("small")
    Y = np.random.default_rng(8).integers(-(1 << 22), 1 << 22, size=(33, 2))
    rtl = run_entropy(cfg, Y, runs=2)
    assert mismatches(cfg, rtl, Y) == []
    assert rtl["all_cycles"] == [ps.entropy_cycles(33, cfg)] * 2


def test_wrong_reference_is_caught():
    """The comparison fails against deliberately wrong references: one point moved to another
    cell, and the grid one side larger."""
    cfg = get_preset("tiny")
    Y = np.random.default_rng(5).integers(-(1 << 22), 1 << 22, size=(17, 2))
    rtl = run_entropy(cfg, Y)
    assert mismatches(cfg, rtl, Y) == []
    Yb = Y.copy()
    lo, span = ef.axis_range(Y)
    i = int(np.argmin(Y[:, 0]))                       # the leftmost point -> the rightmost cell
    Yb[i, 0] = lo[0] + span[0]
    assert {"hist", "h"} & set(mismatches(cfg, rtl, Yb))
    assert "G" in mismatches(cfg, rtl, Y, G=ref.entropy_grid_side(17, cfg) + 1)


def test_entropy_against_float_within_the_bound():
    """Independent of the golden model's integer path: the RTL's H against float64 log2 on the
    RTL's own histogram, within `entropy_bound_lsb`."""
    cfg = _cfg("small")
    Y = fixed_embedding(_digits(48, 0), cfg, seed=1)
    rtl = run_entropy(cfg, Y)
    hf = ef.entropy_float_bits(rtl["hist"]) * (1 << cfg.h_frac)
    assert abs(rtl["h"] - hf) <= ef.entropy_bound_lsb(48, cfg)
    assert fx.log2_fixed(48, 0, cfg) >= rtl["h"] > 0


def test_cycle_model_parts():
    """The model's terms (hand-computed for N = 24 on tiny: G = 3, bitlen(3) = 2 steps per point;
    5 fill cycles (address, read, d, the partial products of d g, d g), 4 output stages; the
    histogram's read-modify-write 2, the SUM pipeline 8 =
    read, count register, normaliser register, 4 FU stages, product register)."""
    cfg = get_preset("tiny")
    assert ps.pass_cycles(24, 3, 0) == 5 + 24 * 2 + 4
    assert ps.entropy_cycles(24, cfg) == (24 + 3) + 1 + 8 + ps.pass_cycles(24, 3, 0) + 2 + 9 + 8 + (8 + cfg.w_frac + 1)


@pytest.mark.parametrize("preset", ["tiny", "digits"])
def test_converts_to_lint_clean_verilog(preset, tmp_path):
    from amaranth.back import verilog

    from hw.entropy import EntropyUnit
    from hw.lint import lint_text
    v = verilog.convert(EntropyUnit(get_preset(preset)), name="entropy_unit", emit_src=False)
    r = lint_text(v, tmp_path, name="entropy_unit.v", top="entropy_unit")
    assert r.ok, r.output
