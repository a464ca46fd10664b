"""Grid-sampling phase RTL (`hw/grid.py`) against the golden model, Amaranth simulator.

Embeddings from the fixed-point pipeline (`tsne_fixed` on digits classes and random features)
and hand-made cases with known answers (ties in distance and population, the clamped maximum,
identical points, a constant axis, the degenerate round robin): the streamed indices equal
`grid_fixed.grid_sample_fixed` (ascending), the final grid side `grid_fixed.sample_side`, the
cycles `phase_schedule.grid_cycles` with ``ready`` high, and the indices are unchanged under
random back-pressure.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from golden_model import grid_fixed as gf
from golden_model import phase_schedule as ps
from golden_model.config import get_preset
from hw.grid import GridSampler
from hw.phase_sim import fixed_embedding, run_grid


def _cfg(preset):
    return get_preset(preset).with_overrides(tsne_iters=60, tsne_exaggeration_iters=20)


def _digits(n, digit):
    X, y = load_digits(return_X_y=True)
    return X[y == digit][:n].astype(np.int64)


def check(cfg, Y, k, g_limit, **kw) -> dict:
    rtl = run_grid(cfg, Y, k, g_limit, **kw)
    want = gf.grid_sample_fixed(Y, k, cfg, g_limit=g_limit).tolist()
    assert rtl["indices"] == want
    if k < len(Y):
        assert rtl["g"] == gf.sample_side(Y, k, g_limit)
    return rtl


CASES = [("tiny", "digits", 24, 3, 1), ("tiny", "random", 20, 5, 2), ("small", "digits", 48, 5, 3),
         ("small", "digits", 48, 10, 4), ("small", "random", 64, 13, 5), ("digits", "digits", 183, 37, 3)]


@pytest.mark.parametrize("preset,data,n,k,seed", CASES)
def test_indices_bit_and_cycle_exact(preset, data, n, k, seed):
    cfg = _cfg(preset)
    X = _digits(n, seed) if data == "digits" else \
        np.random.default_rng(seed).integers(0, 1 << cfg.feature_bits, size=(n, 6))
    Y = fixed_embedding(X, cfg, seed=seed)
    rtl = check(cfg, Y, k, cfg.grid_g)
    assert rtl["cycles"] == ps.grid_cycles(Y, k, cfg, cfg.grid_g)


@pytest.mark.parametrize("k,p_ready,seed", [(4, 0.3, 11), (24, 0.5, 12)])
def test_random_back_pressure(k, p_ready, seed):
    """``ready`` high with probability p in each cycle: the same indices, in order, more cycles
    (k = 24 = N: every index, the k >= N path)."""
    cfg = _cfg("tiny")
    Y = fixed_embedding(_digits(24, 6), cfg, seed=2)
    rtl = check(cfg, Y, k, cfg.grid_g, p_ready=p_ready, seed=seed)
    assert rtl["cycles"] > ps.grid_cycles(Y, k, cfg, cfg.grid_g)


ONE = 1 << 12


def test_hand_cases():
    """Known answers (the cases of tests/test_grid_fixed.py, computed by hand there): the nearest
    point to the centre, distance ties -> lower index, population ties -> lower cell, the clamped
    maximum.  The k = 2 cases also check the back-to-back hits of the g = 1 search pass (one point
    per cycle, all in cell 0): without the write-transparent counter read the occupied count of
    g = 1 reads 2 and g = 1 would be chosen (checked by removing it: these cases fail)."""
    cfg = get_preset("tiny")
    Y = np.array([[0, 0], [10, 10], [5, 5], [1, 1], [9, 9]], dtype=np.int64) * ONE
    assert run_grid(cfg, Y, 2, 16)["indices"] == [3, 4]
    r = run_grid(cfg, Y, 1, 16)                      # g = 1: centre 0.5, point 2 exactly
    assert r["indices"] == [2] and r["g"] == 1
    Y = np.array([[0, 0], [10, 10], [5, 5], [1, 1]], dtype=np.int64) * ONE
    assert run_grid(cfg, Y, 2, 16)["indices"] == [1, 3]
    assert run_grid(cfg, Y[[0, 2, 1, 3]], 2, 16)["indices"] == [1, 3]
    Y = np.array([[10, 10], [0, 10], [10, 0], [0, 0]], dtype=np.int64)
    r = run_grid(cfg, Y, 3, 16)
    assert r["indices"] == [1, 2, 3] and r["g"] == 2


def test_identical_points_and_constant_axis():
    """All points in one cell (both axes constant): the search runs to g_limit, then round robin
    over the single cell takes the lowest indices; a constant y axis: cells by x only."""
    cfg = get_preset("tiny")
    Y = np.full((5, 2), 7, dtype=np.int64)
    r = check(cfg, Y, 3, 4)
    assert r["indices"] == [0, 1, 2] and r["g"] == 1
    assert r["cycles"] == ps.grid_cycles(Y, 3, cfg, 4)
    Y = np.array([[i * ONE, 3 * ONE] for i in (0, 4, 1, 3, 2, 4)], dtype=np.int64)
    r = check(cfg, Y, 2, 8)
    assert r["g"] == 2 and r["cycles"] == ps.grid_cycles(Y, 2, cfg, 8)


def test_degenerate_round_robin_most_populated_first():
    """Two positions (3 and 2 points), k = 4 with g_limit = 3: the most populated cell first,
    each round its next-nearest unused point: 0, 3, 1, 4."""
    cfg = get_preset("tiny")
    Y = np.array([[0, 0], [0, 0], [0, 0], [10, 10], [10, 10]], dtype=np.int64)
    r = check(cfg, Y, 4, 3)
    assert r["indices"] == [0, 1, 3, 4]
    assert r["cycles"] == ps.grid_cycles(Y, 4, cfg, 3)
    w = ps.grid_work(Y, 4, cfg, 3)
    assert w.search == [1, 2, 3] and w.top_scans == 3 and w.picks == 4


def test_back_to_back_runs():
    """Two runs in a row (counters, point memory and marks reused): the same indices."""
    cfg = _cfg("small")
    Y = fixed_embedding(_digits(40, 9), cfg, seed=3)
    rtl = run_grid(cfg, Y, 6, cfg.grid_g, runs=2)
    want = gf.grid_sample_fixed(Y, 6, cfg, g_limit=cfg.grid_g).tolist()
    assert rtl["all"] == [want, want]


def plain_grid_sample(Y, k, frac, g_limit, high_ties=False) -> list:
    """Plain-Python loop version of the documented sampler (independent of `grid_fixed`): exact
    integer floors for the cell and the in-cell code; ``high_ties`` breaks every tie the wrong way
    (a deliberately wrong reference)."""
    Y = [(int(a), int(b)) for a, b in Y]
    n = len(Y)
    if k >= n:
        return list(range(n))
    lo = [min(p[a] for p in Y) for a in range(2)]
    span = [max(p[a] for p in Y) - lo[a] for a in range(2)]

    def cells(g, fr):
        out = []
        for p in Y:
            c, e = [], []
            for a in range(2):
                if span[a] == 0:
                    c.append(0)
                    e.append(-(1 << fr))
                    continue
                num = (p[a] - lo[a]) * g << fr
                q, rem = num // span[a], num % span[a]
                cell = min(q >> fr, g - 1)
                c.append(cell)
                e.append(2 * (q - (cell << fr)) - (1 << fr) + (rem != 0))
            out.append((c[1] * g + c[0], e[0] * e[0] + e[1] * e[1]))
        return out

    best_g, best_occ, g = 1, 0, None
    for gg in range(1, g_limit + 1):
        occ = len({c for c, _ in cells(gg, 0)})
        if occ >= k:
            g = gg
            break
        if occ > best_occ:
            best_g, best_occ = gg, occ
    g = best_g if g is None else g
    pc = cells(g, frac)
    counts = {}
    for c, _ in pc:
        counts[c] = counts.get(c, 0) + 1
    sgn = -1 if high_ties else 1
    top = sorted(counts, key=lambda c: (-counts[c], sgn * c))[:k]
    members = [sorted((i for i in range(n) if pc[i][0] == c), key=lambda i: (pc[i][1], sgn * i)) for c in top]
    chosen, depth = [], 0
    while len(chosen) < k:
        for mem in members:
            if depth < len(mem) and len(chosen) < k:
                chosen.append(mem[depth])
        depth += 1
    return sorted(chosen)


def test_wrong_reference_is_caught():
    """The RTL equals the plain-loop reference and differs from it with the ties broken the
    other way (distance and population ties present) and from k + 1."""
    cfg = get_preset("tiny")
    Y = np.array([[0, 0], [10, 10], [5, 5], [1, 1]], dtype=np.int64) * ONE
    got = run_grid(cfg, Y, 2, 16)["indices"]
    assert got == plain_grid_sample(Y, 2, cfg.grid_frac, 16) == [1, 3]
    assert got != plain_grid_sample(Y, 2, cfg.grid_frac, 16, high_ties=True)
    assert got != plain_grid_sample(Y, 3, cfg.grid_frac, 16)
    Y = np.array([[10, 10], [0, 10], [10, 0], [0, 0]], dtype=np.int64)
    got = run_grid(cfg, Y, 3, 16)["indices"]
    assert got == plain_grid_sample(Y, 3, cfg.grid_frac, 16)
    assert got != plain_grid_sample(Y, 3, cfg.grid_frac, 16, high_ties=True)


def test_plain_reference_agrees_on_pipeline_embeddings():
    """The RTL against the independent loop version on a t-SNE embedding, several budgets."""
    cfg = _cfg("small")
    Y = fixed_embedding(_digits(36, 2), cfg, seed=5)
    for k in (1, 4, 9):
        assert run_grid(cfg, Y, k, cfg.grid_g)["indices"] == plain_grid_sample(Y, k, cfg.grid_frac, cfg.grid_g)


@pytest.mark.parametrize("g_limit", [0, 1025, 2.0, True])
def test_bad_g_limit_is_refused(g_limit):
    with pytest.raises(ValueError, match=r"g_limit must be an integer in \[1, 1024\]"):
        GridSampler(get_preset("tiny"), g_limit)


@pytest.mark.parametrize("preset", ["tiny", "digits"])
def test_converts_to_lint_clean_verilog(preset, tmp_path):
    from amaranth.back import verilog

    from hw.lint import lint_text
    cfg = get_preset(preset)
    v = verilog.convert(GridSampler(cfg, cfg.grid_g), name="grid_sampler", emit_src=False)
    r = lint_text(v, tmp_path, name="grid_sampler.v", top="grid_sampler")
    assert r.ok, r.output
