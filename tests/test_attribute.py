"""synth.attribute: coarse cells grouped by the Amaranth source line that built them."""

import inspect

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from synth import attribute

_LINES = {}


def _here(tag):
    """Record the caller's line number under `tag` (the line a cell should be attributed to)."""
    _LINES[tag] = inspect.currentframe().f_back.f_lineno


class _Toy(wiring.Component):
    a: In(16)
    b: In(16)
    sel: In(2)
    y: Out(16)
    q: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a - self.b); _here("sub")  # noqa: E702
        r = Signal(8); _here("reg")  # noqa: E702
        with m.Switch(self.sel):
            with m.Case(0):
                m.d.sync += r.eq(self.a[:8])
            with m.Case(1):
                m.d.sync += r.eq(self.b[:8])
            with m.Case(2):
                m.d.sync += r.eq(self.a[8:])
        m.d.comb += self.q.eq(r)
        return m


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return attribute.attribute_component(_Toy(), tmp_path_factory.mktemp("attr"), name="toy")


def _row(att, tag):
    want = f"tests/test_attribute.py:{_LINES[tag]}"
    rows = [r for r in att["rows"] if r["src"] == want]
    assert rows, f"no row for {want}: {[r['src'] for r in att['rows']]}"
    return rows[0]


def test_arithmetic_is_attributed_to_its_line_with_its_width(toy):
    sub = _row(toy, "sub")
    assert sub["cells"] == {"$alu": 1}
    assert sub["lut4"] == 16          # one carry cell per output bit of the 16-bit difference


def test_process_multiplexers_follow_the_register_they_update(toy):
    # proc builds the case tree's multiplexers without a source location; they belong to r
    reg = _row(toy, "reg")
    assert reg["ff_bits"] == 8
    assert any(t in reg["cells"] for t in ("$mux", "$pmux")), reg
    assert reg["lut4"] > 0
    assert not [r for r in toy["rows"] if r["src"] == "(no source)" and r["lut4"] > 0]


def test_totals_are_the_sums_of_the_rows(toy):
    assert toy["lut4"] == pytest.approx(sum(r["lut4"] for r in toy["rows"]))
    assert toy["ff_bits"] == sum(r["ff_bits"] for r in toy["rows"]) == 8
    files = attribute.by_file(toy)
    assert files[0]["src"] == "tests/test_attribute.py"
    assert files[0]["lut4"] == pytest.approx(toy["lut4"])


@pytest.mark.parametrize("ctype,params,want", [
    ("$alu", {"Y_WIDTH": 12}, 12),
    ("$mux", {"WIDTH": 10}, 5),
    ("$pmux", {"WIDTH": 8, "S_WIDTH": 3}, 12),
    ("$shr", {"A_WIDTH": 64, "B_WIDTH": 7, "Y_WIDTH": 64}, 64 * 6 / 2),   # log2(64) levels, not 7
    ("$shl", {"A_WIDTH": 64, "B_WIDTH": 2, "Y_WIDTH": 64}, 64 * 2 / 2),
    ("$eq", {"A_WIDTH": 10, "B_WIDTH": 6}, 5),
    ("$xor", {"A_WIDTH": 8, "Y_WIDTH": 8}, 2),
    ("$macc_v2", {"Y_WIDTH": 20, "NADDENDS": 3, "NPRODUCTS": 1}, 60),
    ("$mul", {"Y_WIDTH": 36}, 0),
    ("$mem_v2", {"WIDTH": 36}, 0),
])
def test_lut4_estimate_model(ctype, params, want):
    # the documented model, case by case (widths as Yosys writes them: ints or binary strings)
    assert attribute.lut4_estimate(ctype, params) == want
    as_bits = {k: format(v, "032b") for k, v in params.items()}
    assert attribute.lut4_estimate(ctype, as_bits) == want


def test_unknown_block_is_refused_with_the_list():
    from golden_model.config import get_preset
    with pytest.raises(ValueError, match=r"unknown block 'nope'.*core.*lane"):
        attribute.attribute_block(get_preset("tiny"), "nope")


def test_cli_prints_the_lane_of_tiny(capsys):
    assert attribute.main(["--preset", "tiny", "--block", "lane", "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "tiny, block lane:" in out and "LUT4-eq" in out
    assert "hw/lane.py:" in out


def test_library_files_are_named_the_same_on_every_machine(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    lib = "/opt/py/lib/python3.11/site-packages/amaranth/hdl/_dsl.py"
    assert attribute._src_line({"src": f"{lib}:12.3-14.5"}, root) == "amaranth/hdl/_dsl.py:12"
    assert attribute._src_line({"src": "/usr/lib/python3.11/contextlib.py:7"}, root) == "(python) contextlib.py:7"
    assert attribute._src_line({"src": f"{root}/hw/lane.py:380.1-380.9|other"}, root) == "hw/lane.py:380"
    assert attribute._src_line({}, root) == "(no source)"


def test_report_section_renders_the_summary(toy):
    s = attribute.summary(toy)
    assert s["lut4"] == toy["lut4"] and s["top_lines"] == toy["rows"][:attribute.SUMMARY_LINES]
    md = "\n".join(attribute.summary_markdown(s))
    assert "## Where the area goes" in md
    assert f"| `tests/test_attribute.py:{_LINES['sub']}` | 16 | 0 | $alu x1 |" in md
    assert "| `tests/test_attribute.py` |" in md and "100.0%" in md


@pytest.mark.parametrize("argv,msg", [
    (["--preset", "nope", "--block", "lane"], "unknown preset 'nope'"),
    (["--preset", "tiny", "--set", "lanes=0", "--block", "lane"], "lanes"),
    (["--preset", "tiny", "--block", "nope"], "unknown block 'nope'"),
    (["--preset", "tiny", "--block", "lane", "--top", "0"], "--top must be >= 1"),
])
def test_cli_refuses_bad_input_before_any_tool_runs(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        attribute.main(argv)
    assert e.value.code == 2
    assert msg in capsys.readouterr().err
