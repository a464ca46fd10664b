"""select(..., arithmetic="fixed"): the whole pipeline in the accelerator's arithmetic.  The
wiring against the fixed-point units called one by one (NMS and AdapSNE, both outer-search
modes), the details' units, closeness of the fixed-point betas to the float ones, re-sampling at
another budget, and the size checks."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

from golden_model import entropy_fixed as ef
from golden_model import fixed as fx
from golden_model import grid_fixed as gf
from golden_model import reference as ref
from golden_model.config import PRESETS
from golden_model.select import class_budget, sample_class, select

# "small" with room for digits' 64 features; short t-SNE, two candidates (about a second a call)
CFG = PRESETS["small"].with_overrides(
    d_max=64, tsne_iters=120, tsne_exaggeration_iters=40, perplexity=8.0,
    perplexity_candidates=(4.0, 10.0), perplexity_search="fixed", max_passes=24)


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == c)[:n] for c, n in ((0, 30), (4, 25), (7, 35))])
    return X[keep], y[keep]


def _classes(X, y):
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        yield int(label), idx, ref.sq_distances(X[idx])


def test_nms_fixed_is_the_fixed_units_in_sequence(data):
    X, y = data
    got, det = select(X, y, 0.2, method="nms", cfg=CFG, arithmetic="fixed", return_details=True)
    expect = []
    for label, idx, D in _classes(X, y):
        pq = min(fx.perplexity_to_reg(8.0, CFG), ef.perp_reg_cap(idx.size, CFG))
        emb = ef.embed_class_fixed(D, pq, CFG, "bisection")
        k = class_budget(idx.size, 0.2)
        expect.append(idx[gf.grid_sample_fixed(emb.Y, k, CFG)])
        d = det[label]
        assert np.array_equal(d["Y_q"], emb.Y) and d["occupancy_entropy_q"] == emb.h_q
        assert np.array_equal(d["Y"], emb.Y / float(1 << CFG.y_frac))
        assert d["occupancy_entropy"] == pytest.approx(emb.h_q / (1 << CFG.h_frac) * math.log(2), abs=0)
        assert d["perplexity"] == 8.0 and len(d["perplexity_history"]) == 1
        assert d["entropy_grid"] == ref.entropy_grid_side(idx.size, CFG) and d["kl"] > 0
        assert np.all(d["evaluations"] == d["passes"]) and d["indices"].size == k
    assert np.array_equal(got, np.sort(np.concatenate(expect)))


@pytest.mark.parametrize("mode", ["fixed", "fwa"])
def test_adapsne_fixed_is_the_fixed_units_in_sequence(data, mode):
    X, y = data
    cfg = CFG.with_overrides(perplexity_search=mode, perplexity_fwa_iters=2,
                             tsne_iters=60, tsne_exaggeration_iters=20)
    got, det = select(X, y, 0.1, method="adapsne", cfg=cfg, arithmetic="fixed", return_details=True)
    assert np.array_equal(got, select(X, y, 0.1, method="adapsne", cfg=cfg, arithmetic="fixed"))
    expect = []
    for label, idx, D in _classes(X, y):
        ch = ef.choose_perplexity_fixed(D, cfg, policy="fwa")
        expect.append(idx[gf.grid_sample_fixed(ch.embedding.Y, class_budget(idx.size, 0.1), cfg)])
        d = det[label]
        assert d["perplexity"] == ch.perp_q / 256.0
        hist = [(q / 256.0, h / (1 << cfg.h_frac) * math.log(2)) for q, h in ch.history]
        assert d["perplexity_history"] == hist
        assert len(hist) == 2 if mode == "fixed" else len(hist) > 2
        assert np.all(d["evaluations"] == cfg.lanes * d["passes"])
    assert np.array_equal(got, np.sort(np.concatenate(expect)))


def test_fixed_betas_close_to_float_and_resampling(data):
    X, y = data
    a, da = select(X, y, 0.2, method="nms", cfg=CFG, arithmetic="fixed", return_details=True)
    _, db = select(X, y, 0.2, method="nms", cfg=CFG, arithmetic="float", return_details=True)
    for label in da:
        assert da[label]["converged"].all()  # within the 2^-8-bit tolerance
        np.testing.assert_allclose(da[label]["betas"], db[label]["betas"], rtol=0.02)
    # the embedding does not depend on the budget: re-sampling equals a direct call
    b = select(X, y, 0.4, method="nms", cfg=CFG, arithmetic="fixed")
    again = np.sort(np.concatenate([np.flatnonzero(y == lab)[sample_class(d, class_budget(d["n"], 0.4), CFG)]
                                    for lab, d in da.items()]))
    assert np.array_equal(again, b)


def test_fixed_refuses_data_the_core_cannot_hold(data):
    X, y = data
    with pytest.raises(ValueError, match=r"64 features; allowed 1 .. d_max=32"):
        select(X, y, 0.1, method="nms", cfg=PRESETS["small"], arithmetic="fixed")
    with pytest.raises(ValueError, match=r"class 7 has 35 samples; allowed 2 .. n_max=32"):
        select(X, y, 0.1, method="nms", cfg=CFG.with_overrides(n_max=32), arithmetic="fixed")
    with pytest.raises(ValueError, match=r"features must lie in \[0, 15\] \(feature_bits=4\)"):
        select(X, y, 0.1, method="nms", cfg=CFG.with_overrides(feature_bits=4), arithmetic="fixed")


def test_eval_select_fixed_summary_counts():
    from golden_model.eval_select_fixed import summarise

    def rec(seed, label, pf, px, a, b, hf, hx):
        return {"seed": seed, "label": label, "perplexity_float": pf, "perplexity_fixed": px,
                "same_perplexity": pf == px, "same_selection": set(a) == set(b),
                "jaccard": len(set(a) & set(b)) / len(set(a) | set(b)), "indices_float": a,
                "indices_fixed": b, "entropy_bits_float": hf, "entropy_bits_fixed": hx,
                "candidate_entropy_diff_bits": [hx - hf], "kl_float": 1.0, "kl_fixed": 1.0}

    r = [rec(1, 0, 5.0, 5.0, [1, 2], [1, 2], 3.0, 3.5), rec(1, 1, 5.0, 10.0, [3, 4], [4, 5], 2.0, 2.0),
         rec(2, 0, 10.0, 5.0, [1, 3], [1, 3], 3.0, 3.0)]
    s = summarise(r)
    assert "same perplexity: 1 / 3" in s and "identical selection: 2 / 3" in s
    assert "Jaccard mean 0.778" in s                      # (1 + 1/3 + 1) / 3
    assert "max |.| 0.5000" in s
    assert "control, float seed s vs float seed s+1: Jaccard mean 0.333, same perplexity 0 / 1" in s
