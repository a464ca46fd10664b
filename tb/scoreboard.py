"""In-order scoreboard for the result stream.

Values are compared bit for bit, field by field (index, u, h, passes, converged — whatever fields
the expected beats carry).  Cycles are compared exactly when the run had neither input gaps nor
output back-pressure (the expected cycles then come from `golden_model.schedule`).  Every
mismatch is recorded with point index, field, expected and observed value; when a trace port
exists, the first diverging pass/lane is located through `trace_diff`.

This module has no cocotb dependency so it can be unit-tested in plain pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Mismatch:
    run: str
    point: int                 # position in the class (= expected index)
    field: str                 # a payload field, "cycle", "count" or "protocol"
    expected: object
    got: object
    note: str = ""

    def __str__(self) -> str:
        if self.field in ("check", "protocol"):
            where = f"point {self.point}: " if self.point >= 0 else ""
            return f"[{self.run}] {where}{self.field}: {self.note}"
        s = f"[{self.run}] point {self.point}: {self.field} expected {self.expected!r}, got {self.got!r}"
        if isinstance(self.expected, int) and isinstance(self.got, int) and self.field not in ("count",):
            s += f" (diff {self.got - self.expected:+d})"
        return s + (f" — {self.note}" if self.note else "")


@dataclass
class Scoreboard:
    name: str = "run"
    max_report: int = 20
    mismatches: list = field(default_factory=list)
    compared: int = 0
    cycles_compared: int = 0

    # expected: list of dicts (fields) ; cycles: list of expected absolute edge numbers or None
    def check_beat(self, pos: int, got: dict, expected: dict, got_cycle: int | None = None,
                   expected_cycle: int | None = None, run: str | None = None, note_fn=None) -> bool:
        run = run or self.name
        ok = True
        for f, ev in expected.items():
            gv = got.get(f)
            if gv is None:
                self.mismatches.append(Mismatch(run, pos, f, ev, None, "field missing from the RTL payload"))
                ok = False
                continue
            if int(gv) != int(ev):
                note = note_fn(pos, f) if note_fn else ""
                self.mismatches.append(Mismatch(run, pos, f, int(ev), int(gv), note))
                ok = False
        self.compared += 1
        if expected_cycle is not None and got_cycle is not None:
            self.cycles_compared += 1
            if got_cycle != expected_cycle:
                self.mismatches.append(Mismatch(run, pos, "cycle", expected_cycle, got_cycle,
                                                "relative to the edge that accepted the last feature"))
                ok = False
        return ok

    def check_count(self, got: int, expected: int, run: str | None = None) -> None:
        if got != expected:
            self.mismatches.append(Mismatch(run or self.name, min(got, expected), "count", expected, got,
                                            "number of result beats"))

    def protocol(self, msg: str, run: str | None = None) -> None:
        self.mismatches.append(Mismatch(run or self.name, -1, "protocol", "", "", msg))

    def error(self, msg: str, run: str | None = None, point: int = -1) -> None:
        self.mismatches.append(Mismatch(run or self.name, point, "check", "", "", msg))

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def report(self) -> str:
        if self.ok:
            return f"{self.name}: {self.compared} beats matched ({self.cycles_compared} cycle-exact)"
        lines = [f"{self.name}: {len(self.mismatches)} mismatches in {self.compared} compared beats "
                 f"({self.cycles_compared} with cycle checks); first {min(len(self.mismatches), self.max_report)}:"]
        lines += [f"  {m}" for m in self.mismatches[:self.max_report]]
        return "\n".join(lines)


def trace_diff(expected_passes: list, got_records: list, max_lanes: int | None = None) -> str:
    """First diverging (pass, lane, quantity) between the golden model's PassTrace list of one
    point and the trace records observed for that point.

    expected_passes: [{"candidates": [...], "h": [...], "z": [...], "t": [...]}, ...] (None = idle)
    got_records: same shape, decoded from the RTL trace stream.
    """
    for p, (e, g) in enumerate(zip(expected_passes, got_records)):
        for q in ("candidates", "h", "z", "t"):
            if q not in g or q not in e:
                continue
            el, gl = e[q], g[q]
            lanes = range(min(len(el), len(gl)) if max_lanes is None else min(max_lanes, len(el), len(gl)))
            for lane in lanes:
                if el[lane] is None:
                    continue
                if gl[lane] != el[lane]:
                    return f"first divergence in pass {p}, lane {lane}: {q} expected {el[lane]}, got {gl[lane]}"
    if len(got_records) != len(expected_passes):
        return f"trace has {len(got_records)} passes, golden model {len(expected_passes)}"
    return "trace agrees with the golden model pass by pass (divergence after the last pass)"
