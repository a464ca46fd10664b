"""synth.speed_select: accelerator cycle accounting against the phase split of run_schedule, the
set builders on hand cases, the markdown's target verdict, and one small end-to-end selection
timing (two classes of 12 points, 250 t-SNE iterations)."""


import numpy as np
import pytest

from golden_model import run_schedule as rsch
from golden_model.config import get_preset
from golden_model.search_fixed import search_class
from synth import speed_select as sp

CFG = get_preset("digits").with_overrides(phases=True)


def _class(n, d, seed):
    return np.random.default_rng(seed).integers(0, 17, size=(n, d))


def test_tsne_cycles_are_the_mode1_tsne_phase_without_trace():
    X = _class(20, 8, 1)
    a = sp.tsne_accel_cycles(CFG, X)
    r = rsch.run_schedule(CFG, 20, 8, "ksection", search_class(X, 9.5, "ksection", CFG))
    # MODE 1's t-SNE phase (INIT_GO .. done) also carries the last iteration's TRACE state (its Zq
    # beat and the N embedding beats); the other iterations' Zq beats leave while their update
    # overlaps the next iteration, at no cycle
    assert a["tsne"] == (r.done_cycle - r.tsne_init) - 1 - 20
    assert a["mode1"] == sp.MODE1_WRITES + sp.START_CYCLES + 20 * 8 + r.done_cycle


def test_subsample_and_merged_pairs_hand_cases():
    cl = [(0, np.arange(10).reshape(5, 2)), (1, np.arange(6).reshape(3, 2)), (2, np.zeros((2, 2)))]
    sub = sp.subsample(cl, 3)
    assert [len(x) for _, x in sub] == [3, 3, 2]
    assert all(np.all(np.diff(x[:, 0]) > 0) for _, x in sub[:2])       # order kept
    pairs = sp.merged_pairs(cl, n_max=7)
    assert [(lab, len(x)) for lab, x in pairs] == [("0+1", 7)]          # 5 + 3 cut to 7; class 2 unpaired


def _fake(speedup_ref):
    cls = [{"evaluations": 5, "phases": {"tsne": 90, "search": 10}}]
    e = {"accelerator": {"classes": cls, "cycles": 100, "time_s": 1.0},
         "software_s": {"reference": speedup_ref, "sklearn_exact": 9.0, "sklearn_bh": 4.0, "opentsne_bh": 5.0},
         "best_peer": "sklearn_bh", "speedup_vs_reference": speedup_ref, "speedup_vs_best_peer": 4.0}
    return {"fmax_mhz": 71.4, "config": {"tsne_iters": 750}, "selection_runs": 3,
            "selection": {"n_points": 10, "ratio": 0.1, "methods": {"adapsne": e}}}


def test_markdown_states_whether_the_target_is_met():
    low = "\n".join(sp.markdown(_fake(3.0)))
    assert "| adapsne | 5 | 100 |" in low and "3.00x" in low and "**not met**" in low
    assert "tsne 90.0 %, search 10.0 %" in low
    assert "f = 0.900, x = 3.00: t-SNE 4.5x faster" in low          # 0.9 / (0.3 - 0.1), by hand
    assert "not reachable" in "\n".join(sp.markdown(_fake(0.5)))   # 0.05 < 1 - f
    assert "| met |" in "\n".join(sp.markdown(_fake(12.0)))


def test_selection_table_end_to_end_small():
    cfg = CFG.with_overrides(tsne_iters=250, tsne_exaggeration_iters=50, perplexity_candidates=(3.0, 5.0))
    X = np.concatenate([_class(12, 8, 2), _class(12, 8, 3)])
    y = np.repeat([0, 1], 12)
    out = sp.selection_table(cfg, X, y, 71.4, runs=1, log=lambda m: None)
    for m, e in out["methods"].items():
        a = e["accelerator"]
        assert a["cycles"] == sum(c["run"] + c["load"] for c in a["classes"])
        assert a["classes"][0]["load"] == sp.SELECT_WRITES + sp.START_CYCLES + 12 * 8
        assert a["time_s"] == pytest.approx(a["cycles"] / 71.4e6)
        assert set(e["software_s"]) == set(sp.PEERS) and all(v > 0 for v in e["software_s"].values())
        assert e["speedup_vs_reference"] == pytest.approx(e["software_s"]["reference"] / a["time_s"])
    assert [c["evaluations"] for c in out["methods"]["adapsne"]["accelerator"]["classes"]] == [2, 2]
    assert [c["evaluations"] for c in out["methods"]["nms"]["accelerator"]["classes"]] == [1, 1]
    # NMS searches point-parallel (digits is generated with point_parallel), AdapSNE (FWA) cannot;
    # the candidate-parallel NMS is reported beside it: slower in the search, faster in the affinity
    # rows (fused into the search: no row recomputation), the same elsewhere
    nms = out["methods"]["nms"]
    assert nms["accelerator"]["dataflow"] == "point" and out["methods"]["adapsne"]["accelerator"]["dataflow"] == "candidate"
    alt = nms["accelerator_candidate_parallel"]
    assert alt["dataflow"] == "candidate"
    for c_pp, c_cp in zip(nms["accelerator"]["classes"], alt["classes"]):
        assert c_pp["phases"]["search"] < c_cp["phases"]["search"]
        assert c_pp["phases"]["affinity"] > c_cp["phases"]["affinity"]
        assert {k: v for k, v in c_pp["phases"].items() if k not in ("search", "affinity")} == \
            {k: v for k, v in c_cp["phases"].items() if k not in ("search", "affinity")}
    assert "nms (search point-parallel)" in "\n".join(sp.markdown({"fmax_mhz": 71.4, "config": {}, "selection_runs": 1,
                                                                   "selection": out}))


def test_committed_speed_report_is_rendered_from_its_json():
    import json
    from pathlib import Path

    from synth.speed import to_markdown
    d = Path(__file__).resolve().parent.parent / "reports" / "synth"
    rep = json.loads((d / "speed.json").read_text())
    assert (d / "speed.md").read_text() == to_markdown(rep)
    assert {"full", "tsne", "selection"} <= set(rep) and set(rep["selection"]["methods"]) == {"nms", "adapsne"}
    assert rep["rtl_sha256"].keys() == {"digits", "digits+phases"}
    # which digits RTL the clock came from is a freshness question (`pytest -m reports`), not this one's
    assert "reports/synth/digits.json" in rep["fmax_source"] and "RTL " in rep["fmax_source"]


def test_markdown_affinity_alternatives_arithmetic():
    """The 'not built' line of a point-parallel search's method: every evaluation's affinity phase
    replaced by the stored-rows model's cycles (N = 5, D = 16 from the load, K = 4, two evaluations;
    reference 1 s at 1 MHz); a candidate-parallel method (its rows fused into the search) has none."""
    from golden_model import affinity_schedule as asch
    load = sp.SELECT_WRITES + sp.START_CYCLES + 5 * 16
    cls = [{"class": 0, "n": 5, "evaluations": 2, "load": load, "phases": {"tsne": 90, "search": 10}}]

    def method(dataflow):
        return {"accelerator": {"classes": cls, "cycles": 100_000, "time_s": 0.1, "dataflow": dataflow},
                "software_s": {"reference": 1.0, "sklearn_exact": 9.0, "sklearn_bh": 4.0, "opentsne_bh": 5.0},
                "best_peer": "sklearn_bh", "speedup_vs_reference": 10.0, "speedup_vs_best_peer": 40.0}
    md = "\n".join(sp.markdown({"fmax_mhz": 1.0, "config": {"tsne_iters": 750, "lanes": 4}, "selection_runs": 3,
                                "selection": {"n_points": 5, "ratio": 0.1,
                                              "methods": {"nms": method("point"), "adapsne": method("candidate")}}}))
    full = asch.run_cycles(5, 16, 4)
    stored = 100_000 - 2 * (full - asch.stored_rows_cycles(5, 16, 4))
    assert f"* nms: stored rows {stored:,} cycles, {1e6 / stored:.2f}x." in md
    assert "* adapsne: stored rows" not in md
    bad = dict(cls[0], load=load + 1)
    with pytest.raises(ValueError, match="is not writes"):
        sp.class_d(bad)
