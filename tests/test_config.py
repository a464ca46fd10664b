"""The configuration object: presets, derived values, precise validation errors, JSON round trip."""

import json

import pytest

from golden_model.config import PRESETS, AccelConfig, ConfigError, get_preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_valid_and_roundtrip(name):
    cfg = PRESETS[name]
    d = json.loads(cfg.to_json())
    assert AccelConfig.from_dict(d) == cfg
    assert sum(cfg.fwa_spark_lanes) + cfg.fwa_gauss_sparks == cfg.lanes
    assert all(s >= 1 for s in cfg.fwa_spark_lanes)
    assert cfg.dist_max < 2 ** cfg.dist_bits


@pytest.mark.parametrize("field, value, words", [
    ("lanes", 0, ["lanes", "[1, 256]"]),
    ("lanes", 3.5, ["lanes", "integer"]),
    ("n_max", 1, ["n_max", "[2, 4096]"]),
    ("feature_bits", 17, ["feature_bits", "[1, 16]"]),
    ("exp_table_bits", 14, ["exp_table_bits"]),
    ("t_frac", 6, ["exp_table_bits", "t_frac=6"]),
    ("max_passes", 0, ["max_passes", "[1, 255]"]),
    ("perplexity", 1.0, ["perplexity", "(1.0"]),
    ("perplexity", 1e9, ["perplexity"]),
    ("perplexity_search", "grid", ["perplexity_search", "fixed"]),
    ("fwa_fireworks", 8, ["fwa_fireworks", "lanes=8"]),
    ("seed", 0, ["seed"]),
    ("interpolate", 1, ["interpolate", "bool"]),
    ("tsne_update_slices", 0, ["tsne_update_slices=0", "[1, 16]"]),
    ("tsne_update_slices", 17, ["tsne_update_slices=17", "[1, 16]"]),
    ("tsne_update_slices", 2.0, ["tsne_update_slices", "integer in [1, 16]"]),
])
def test_validation_names_parameter_and_range(field, value, words):
    with pytest.raises(ConfigError) as e:
        PRESETS["small"].with_overrides(**{field: value})
    for w in words:
        assert w in str(e.value)


def test_phases_need_two_lanes():
    """The t-SNE engine is built for K >= 2; a search-only core takes one lane."""
    with pytest.raises(ConfigError, match=r"phases=True needs lanes >= 2 .*got lanes=1"):
        PRESETS["tiny"].with_overrides(phases=True, lanes=1, fwa_fireworks=1, fwa_gauss_sparks=0)
    PRESETS["tiny"].with_overrides(lanes=1, fwa_fireworks=1, fwa_gauss_sparks=0)
    from golden_model import timing
    # the ordered dataflow pads short classes' blocks until the hand-over fits (at II = 2, with the
    # Zq partials out of the scan chain since session 39, no class needs padding)
    assert all(timing.tsne_handover_ok(timing.tsne_ordered_slots(n, k), k) and timing.tsne_ordered_slots(n, k) >= n
               for k in range(2, 70) for n in range(2, 300))


def test_unknown_override_and_preset():
    with pytest.raises(ConfigError, match="unknown parameter 'lane'"):
        PRESETS["tiny"].with_overrides(lane=4)
    with pytest.raises(ConfigError, match="available presets"):
        get_preset("huge")


def test_config_is_frozen():
    with pytest.raises(Exception):
        PRESETS["tiny"].lanes = 9


def test_parse_override_types_by_field_and_defers_bad_text_to_validation():
    from golden_model.config import parse_override, parse_overrides

    assert parse_override("lanes=0x10") == ("lanes", 16)
    assert parse_override("interpolate=off") == ("interpolate", False)
    assert parse_override("tolerance_log2=none") == ("tolerance_log2", None)
    assert parse_override("perplexity_candidates=(3, 5;8)") == ("perplexity_candidates", (3.0, 5.0, 8.0))
    assert parse_overrides(["lanes=4", "lanes=8"]) == {"lanes": 8}
    key, raw = parse_override("w_frac=abc")  # not converted: validation names range and value
    with pytest.raises(ConfigError, match=r"w_frac must be an integer in \[8, 24\], got 'abc'"):
        PRESETS["tiny"].with_overrides(**{key: raw})
    with pytest.raises(ConfigError, match="expects key=value"):
        parse_override("lanes")
    with pytest.raises(ConfigError, match="unknown parameter 'lane'"):
        parse_override("lane=4")


def test_result_neutral_fields_change_no_result():
    """`RESULT_NEUTRAL_FIELDS` (structure and cycles only): a fixed-point t-SNE from one P and one
    start, and a fixed-point selection (NMS and AdapSNE), are identical for two values of each."""
    import numpy as np

    from golden_model import tsne_fixed as tf
    from golden_model.config import RESULT_NEUTRAL_FIELDS
    from golden_model.select import select
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.integers(0, 16, (14, 6)), rng.integers(8, 32, (12, 6))])
    y = np.repeat([0, 1], [14, 12])
    base = get_preset("tiny").with_overrides(phases=True, tsne_iters=12, tsne_exaggeration_iters=4)
    P = rng.integers(0, 1 << base.p_frac, (9, 9))
    P = np.triu(P, 1) + np.triu(P, 1).T
    for field in sorted(RESULT_NEUTRAL_FIELDS):
        a, b = base.with_overrides(**{field: 1}), base.with_overrides(**{field: 3})
        ra, rb = tf.tsne_fixed(P, a), tf.tsne_fixed(P, b)
        assert np.array_equal(ra.Y, rb.Y) and np.array_equal(ra.V, rb.V) and np.array_equal(ra.G, rb.G), field
        for method in ("nms", "adapsne"):
            ia = select(X, y, 0.3, method=method, cfg=a, arithmetic="fixed")
            ib = select(X, y, 0.3, method=method, cfg=b, arithmetic="fixed")
            assert np.array_equal(ia, ib), (field, method)
