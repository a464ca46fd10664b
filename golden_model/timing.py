"""Every latency of the core, written once: the lane op table and the controllers' state lengths.

The RTL (`hw.lane` builds its pipeline valid chains and resource steering from `LANE_OPS`; the
controllers wait for the derived latencies), the cycle schedule (`golden_model.schedule`), the
docs' timing table (`python -m golden_model.timing --markdown`, checked against docs/hardware.md)
and the reports all read this module; no latency is typed anywhere else.

Lane ops
--------
An op is issued in cycle ``c`` (its *stage 0*); stage ``s`` happens in cycle ``c + s``.  Each
stage lists the lane resources it occupies in that cycle.  Two ops may overlap in the pipeline as
long as no resource is claimed twice in one cycle; the lane asserts this in simulation
(``Lane(cfg, checks=True)``).  ``latency`` is the number of stages: the op's result is visible
in cycle ``c + latency``.

Resources of a lane (docs/hardware.md, "Lane"):

``absdiff``  |x_i - x_j| register          ``mul``      main multiplier MULA (product register)
``dacc``     distance accumulator           ``minmax``   lane-local min/max of D_ij
``cand``     candidate boundary mapping     ``u``        candidate register u (also SCAN)
``fu_rom``   function-unit ROM read         ``fu_out``   function-unit interpolation / output
``tsat``     kernel exponent shift/sat      ``twmul``    t*w multiplier (``twmul_in``: its operands)
``z``, ``t``  Z and T accumulators (also cleared by CAND, shifted by SCAN)
``prng``     xorshift32 state
``psat``     p_{j|i} shift/saturation register (affinity op ``kprob``)
``t*``       t-SNE engine: differences, the multipliers M0, M1 (``tm0``, ``tm1``; together also the
             wide TMW; M2 is MULA, M3 the t*w multiplier: `TPAIR_MULS`), square, normaliser, Zq
             and force accumulators, scan chain (``hw.lane_tsne``)
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

__all__ = ["ENGINE_CMD", "BROADCAST", "GRANT_LEAD", "pass_grants", "pass_grant_mask", "LaneOp", "LANE_OPS", "PHASE_OPS", "RESOURCES", "TPAIR_MULS", "MUL", "FU", "TM0", "TM1", "TMW", "pair_interval", "uses",
           "latency", "stage_of", "claims", "PHASES", "ROWEND", "ROWEND_STAGES",
           "markdown", "point_pre", "dist_done_latency", "pass_overhead"]

RESOURCES = ("absdiff", "mul_in", "mul", "mul_sum", "dacc", "minmax", "cand_delta", "cand_sum",
             "cand_mirror", "u", "fu_rom", "fu_reg", "fu_mul", "fu_add", "bm", "tshift", "tsat", "wshift",
             "twmul", "z", "t", "prng",
             # t-SNE engine (docs/hardware.md, "t-SNE engine")
             "tdiff", "tm0_in", "tm0", "tm0_sum", "tm1_in", "tm1", "tm1_sum", "twmul_in",
             "tsq", "tsqsh", "tnorm_in", "tnorm",
             "tnorm_shift", "tzt", "tzq", "tsr", "tfshift", "tffine", "tacc", "ty", "tynext", "tsz", "tsa",
             # affinity phase (op ``kprob``): the saturated p register
             "psat",
             # t-SNE update (op ``tupd``, on the update slices of `hw.tsne_update`, not on the lanes;
             # its multipliers TU0 .. TU7 follow `TUPD_MULS`, below)
             "tu_in", "tu_ga", "tu_gr", "tu_grad", "tu_gain", "tu_step", "tu_vel", "tu_pos")

#: the main multiplier MULA, pipelined: operand registers, partial products (<= 18 x 18 bits each,
#: one DSP block apiece), their sum; the product is read in the stage after ``mul_sum``.
MUL = ("mul_in", "mul", "mul_sum")
#: the function unit, pipelined: ROM read, ROM word register, interpolation product, sum; the
#: table value is read in the stage after ``fu_add``.
FU = ("fu_rom", "fu_reg", "fu_mul", "fu_add")
#: the two t-SNE multipliers TM0, TM1 of a lane, pipelined as MULA (operand registers, partial
#: products with the signed operand split at bit 17, sum).
TM0 = ("tm0_in", "tm0", "tm0_sum")
TM1 = ("tm1_in", "tm1", "tm1_sum")
#: a lane's wide multiplier TMW (ops ``kprob``, ``tmul``): its M0 and M1 on the two chunks of the
#: signed operand (split at bit 17), their sum registered
TMW = (("tm0_in", "tm1_in"), ("tm0", "tm1"), "tm0_sum")


@dataclass(frozen=True)
class LaneOp:
    """One lane op: its name, the resources of each pipeline stage, and what it computes."""
    name: str
    stages: tuple          # tuple of tuples of resource names, stage 0 = issue cycle
    meaning: str
    marks: tuple = ()      # (label, stage): named intermediate points other units wait for

    @property
    def latency(self) -> int:
        return len(self.stages)

    def mark(self, label: str) -> int:
        return dict(self.marks)[label]


#: The t-SNE update of one point on one update slice (op ``tupd``, `hw.tsne_update`: a slice is a
#: pipelined unit with this op only, outside the lanes; both coordinates at once, in the same
#: stages on two copies of each multiplier).  Every product is exact from chunks:
#: ``(name, a chunks, b chunks, issue stage of the first chunk, chunks per stage)``; a wide TM
#: multiplier's signed operand ``a`` takes 31-bit unsigned chunks (the top one signed), the unsigned
#: ``b`` ``SPLIT``-bit chunks, chunk pairs in the order (a0 b0, a0 b1, a1 b0, a1 b1), ``chunks per
#: stage`` of them issued in each stage; ``AccelConfig`` keeps every operand within these chunk counts.
#:   aca  A ca          (gradient, attractive; ca = ex/(1+m_N) of COEF)
#:   rrz  R rz          (gradient, repulsive; rz = recip(m_Zq))
#:   vmom V mom         (momentum term)
#:   gdec G gain_dec    (decayed gain)
#:   gpg  G' g          (new gain times gradient)
#:   tlr  (G' g) lr     (the step before its floor)
#: Each product's partial products are summed in a chain of registers, one per issue stage (two
#: partials and the chain's last sum in one adder where two chunks share a stage).  gdec early (the
#: decayed gain is clipped a stage before ``gain``); vmom has slack; the chain from ``rrz`` (``rz``
#: comes last, `TUPD_RZ_STAGE`) to the position is the update's latency, so ``gpg`` and ``tlr``
#: issue two chunks per stage, ``tlr`` as soon as ``gpg``'s product is summed.
TUPD_MULS = (("aca", 2, 2, 1, 1), ("rrz", 2, 1, 5, 1), ("gdec", 1, 1, 7, 1), ("vmom", 1, 1, 12, 1),
             ("gpg", 2, 2, 13, 2), ("tlr", 2, 2, 18, 2))
#: the other stages of ``tupd``: A ca shifted (ga), R rz shifted (gr), g saturated, the new gain,
#: the step's floor, velocity, position (results visible in the stage after ``pos``).  ``ga`` and
#: ``gr`` take a two-stage shifter (the coarse shift in the stage before the mark; one shifter for
#: both when their coarse stages differ modulo the issue interval, else one each); the new gain
#: is chosen in the stage after ``grad``'s by the sign of g, where ``gpg``'s first products take it.
TUPD_MARKS = (("ga", 9), ("gr", 11), ("grad", 12), ("gain", 13), ("step", 23), ("vel", 24), ("pos", 25))
#: Issue interval of ``tupd`` on one slice (session 50; a point every 16 cycles on one TM pair
#: before): the 16 chunk products of a coordinate go two per multiplier, an odd issue stage with
#: an even one (both in stage order: 1 2, 3 4, 5 6, 7 12, 13 14, 13 14, 19 18, 19 18), so a slice
#: takes a point every 2 cycles - the rate of the pair stream - with every multiplier busy.
TUPD_INTERVAL = 2
#: every chunk product of ``tupd``: ``(product, chunk index, issue stage)``
TUPD_CHUNKS = tuple((name, k, s0 + k // per) for name, na, nb, s0, per in TUPD_MULS for k in range(na * nb))


def _pair_chunks() -> dict:
    odd = sorted((c for c in TUPD_CHUNKS if c[2] % 2), key=lambda c: c[2])
    even = sorted((c for c in TUPD_CHUNKS if not c[2] % 2), key=lambda c: c[2])
    assert len(odd) == len(even), "tupd's chunk stages must pair odd with even (TUPD_INTERVAL = 2)"
    return {c: m for m, pair in enumerate(zip(odd, even)) for c in pair}


#: chunk ``(product, k)`` -> the update multiplier TU<m> that takes it
TUPD_MULTIPLIER = {(name, k): m for (name, k, _), m in _pair_chunks().items()}
#: update multipliers per coordinate of a slice (TU0 .. TU<M-1>, each one wide TM per coordinate)
TUPD_MULTIPLIERS = len(TUPD_CHUNKS) // TUPD_INTERVAL


def tu(k: int) -> tuple:
    """The pipeline resources of update multiplier TU<k> (as `TM0`: operands, partials, sum)."""
    return (f"tu{k}_in", f"tu{k}", f"tu{k}_sum")


RESOURCES = RESOURCES + tuple(r for k in range(TUPD_MULTIPLIERS) for r in tu(k))


def _tupd_stages() -> tuple:
    marks = dict(TUPD_MARKS)
    st = [set() for _ in range(marks["pos"] + 1)]
    st[0].add("tu_in")
    for name, k, s in TUPD_CHUNKS:
        for d, res in enumerate(tu(TUPD_MULTIPLIER[name, k])):
            assert res not in st[s + d], (name, k, res)
            st[s + d].add(res)
    for name, s in TUPD_MARKS:
        st[s].add(f"tu_{name}")
    order = {r: k for k, r in enumerate(RESOURCES)}
    return tuple(tuple(sorted(x, key=order.__getitem__)) for x in st)


def _stages(*groups) -> tuple:
    """Stage tuple from per-stage resource groups; a str is a single resource."""
    return tuple((g,) if isinstance(g, str) else tuple(g) for g in groups)


#: the four 18 x 18 multipliers M0 .. M3 of ``tpair``, each as (operand-register resource, product
#: resource): M0 and M1 are the lane's own (together the wide TMW of ``kprob`` and ``tmul``); M2 is
#: the search's MULA (its operand registers and first partial product) and M3 is ``kern``'s ``t w``
#: multiplier (its operand registers, which ``kern`` writes beside ``w``, and its product): both
#: search multipliers are idle in the t-SNE phase, and sharing them saves two DSPs per lane
#: (session 51)
TPAIR_MULS = (("tm0_in", "tm0"), ("tm1_in", "tm1"), ("mul_in", "mul"), ("twmul_in", "twmul"))
_M2, _M3 = TPAIR_MULS[2], TPAIR_MULS[3]

#: ---- t-SNE engine: one pair (i, j) per op, in the pair format (`tsne_fixed.pair_y`: 17-bit y,
#: |dx| < 2^17), so every product is one 18 x 18 multiplier: M0 .. M3 (`TPAIR_MULS`), each claimed
#: in two stages of opposite parity, so the op issues every `pair_interval` () = 2 cycles with all
#: four busy in every cycle
_TPAIR = LaneOp("tpair", _stages(
    (),                                                  # issue (the engine registers y_j, S_ij)
    "tdiff",                                             # dx, dy = y^_i - y^_j; S_ij latched
    ("tm0_in", "tm1_in"),                                # |dx| |dx| on M0, |dy| |dy| on M1
    ("tm0", "tm1"),
    "tsq",                                               # dx^2 + dy^2
    "tsqsh",                                             # d2 = floor((dx^2 + dy^2) 2^(W - 2F))
    "tnorm_in",                                          # x = 2^W + d2
    "tnorm", "tnorm_shift",                              # leading one p; m, e = p - W
    *FU,                                                 # r = recip(m)
    ("tzt", "tm0_in", "tm1_in"),                         # Zq term r 2^(Q-W) >> e; S r on M0, r r on M1
    ("tzq", "tm0", "tm1"),                               # Zq += the term
    "tsr",                                               # sr = S r >> P, r2 = r r >> W
    (_M2[0], _M3[0]),                                    # sr dx on M2, r2 dx on M3
    (_M2[1], _M3[1], _M2[0], _M3[0]),                    # sr dy on M2, r2 dy on M3
    (_M2[1], _M3[1], "tfshift"),                         # floor(. 2^-sa), floor(. 2^-sb) (x): coarse
    ("tfshift", "tffine"),                               # (y) coarse; (x) fine
    ("tffine", "tacc"),                                  # (y) fine; A_x += , R_x +=
    "tacc"),                                             # A_y += , R_y +=
    "t-SNE pair: q = recip(1 + |y^_i - y^_j|^2) as (r, e); Zq, attractive and repulsive sums of y_i")


def _snap_stages(what: str) -> tuple:
    """``tzsnap`` (``what`` = "zq"; resource ``tsz``: the lane's snapped Zq register, which the
    engine's Zq tree reads) takes (and clears) the lane's live Zq in the stage after `tpair`'s last
    ``tzq`` stage; ``tsnap`` ("acc"; ``tsa``: the scan registers of A, R) takes the x sums in
    ``tpair``'s last ``tacc`` stage (the y term's: no x term comes then) and the y sums in the stage
    after it (the next pair's x term's).  Issued with a block's last ``tpair`` slot, each takes that
    pair's terms and none of the next block's (the last block issues ``tzsnap`` with its last ring
    step instead: its broadcast slots pair nothing, `tsne_zq_lead`).  So no live sum is taken in a
    cycle that adds to it: a sum is cleared as it is taken and the next block's first term adds to
    zero (`hw.lane_tsne`: no multiplexer in front of the four accumulators, session 52); the snap
    does not claim ``tacc``."""
    zq = [s for s, r in enumerate(_TPAIR.stages) if "tzq" in r][-1] + 1
    acc = [s for s, r in enumerate(_TPAIR.stages) if "tacc" in r]
    if what == "zq":
        return tuple([()] * zq + [("tzq", "tsz")])
    assert len(acc) == 2 and acc[1] == acc[0] + 1, acc      # x, then y
    return tuple([()] * acc[1] + [("tsa",), ("tsa",)])


LANE_OPS = {op.name: op for op in (
    LaneOp("dist", _stages("absdiff", *MUL, "dacc", "minmax"),
           "acc += (x_i - x_j)^2; the group's last feature writes D_ij and updates the lane min/max",
           marks=(("dout", 5),)),
    LaneOp("cand", _stages(("mul_in", "z", "t"), "mul", "mul_sum", "cand_delta", "cand_sum", "cand_mirror",
                           "u", *FU, "bm"),
           "candidate u = mirror_clamp(base + shift(A * B)); bm = 2^-g (EXP_U); clears Z, T"),
    LaneOp("kern", _stages(*MUL, "tshift", "tsat", *FU, ("wshift", "twmul_in"), ("twmul", "z"), "t"),
           "t = sat(d * bm >> s); w = 2^-t (EXP_T); Z += w; T += floor(t w / 2^T)"),
    # affinity phase: the kern pipeline again (w, not accumulated), then w * r on TM0 (free outside
    # the t-SNE phase, so the op issues every cycle on one lane; MULA is already claimed at stage 0)
    LaneOp("kprob", _stages(*MUL, "tshift", "tsat", *FU, "wshift", *TMW, "psat"),
           "w as kern; p = min(floor(w r / 2^(2W + e - P)), 2^P - 1) with the row's r = recip(m_Z), e"),
    LaneOp("scan", _stages(("u", "z", "t")), "shift (u, Z, T) one lane towards lane 0 (into the ROWEND unit)"),
    LaneOp("prng", _stages("prng"), "load the per-point seed or advance the xorshift32 state"),
    _TPAIR,
    LaneOp("trecip", _stages("tnorm_in", "tnorm", "tnorm_shift", *FU),
           "x = 2^p (1 + m): p and recip(m) of an external operand (N, Zq) for the gradient constants"),
    LaneOp("tupd", _tupd_stages(),
           "t-SNE update of one point (both coordinates) on an update slice (not a lane op since "
           "session 30): gradient, gains, velocity, position "
           "(`tsne_fixed.update`), every product exact from chunks on the multipliers TU0 .. TU7 (`TUPD_MULS`)",
           marks=TUPD_MARKS + tuple((name, s0) for name, _, _, s0, _ in TUPD_MULS)),
    LaneOp("tmul", _stages(*TMW),
           "one TMW product of external operands (the gradient constant ca = ex rn, lane 0)"),
    LaneOp("tnext", _stages((), "tynext"),
           "latch the broadcast y^_j (the engine's register, a cycle after the issue) as the lane's next "
           "point (y_i of the next block, or of block 0 in PRIME)"),
    LaneOp("tload", _stages("ty"), "y_i <- the latched next point (the block hand-over, between two tpair slots)"),
    LaneOp("tzsnap", _snap_stages("zq"),
           "the live Zq into the snapped Zq register (the engine's Zq tree reads it) and cleared, "
           "after tpair's tzq stage"),
    LaneOp("tsnap", _snap_stages("acc"),
           "the pass sums A, R into the scan registers and the live sums cleared: x in tpair's last tacc stage, y in the next"),
    LaneOp("tscan", _stages("tsa"),
           "shift the snapped (A, R) one lane towards lane 0; the last lane takes zeros"),
)}

#: the ops of the later phases (affinities, t-SNE): a search-only lane (``phases=False``) builds
#: none of them, so its Verilog does not change with their datapaths
PHASE_OPS = frozenset({"kprob", "tpair", "trecip", "tupd", "tmul", "tnext", "tload", "tzsnap", "tsnap", "tscan"})


def pair_interval(op: str = "tpair") -> int:
    """Smallest issue interval of ``op`` back to back with itself: every resource it claims in
    several stages must fall on distinct stages modulo the interval."""
    st = LANE_OPS[op].stages
    for ii in range(1, len(st) + 1):
        if all(len({s % ii for s, r in enumerate(st) if res in r}) == sum(res in r for r in st)
               for res in RESOURCES):
            return ii
    return len(st)


assert pair_interval("tupd") == TUPD_INTERVAL, "TUPD_MULS / the multiplier pairing no longer give a point per slice every TUPD_INTERVAL cycles"


def uses(op: str, resource: str) -> list:
    """Every stage of ``op`` that occupies ``resource``."""
    return [s for s, r in enumerate(LANE_OPS[op].stages) if resource in r]


def latency(op: str) -> int:
    """Cycles from an op's issue to its result being visible."""
    return LANE_OPS[op].latency


def stage_of(op: str, resource: str) -> int:
    """The (first) stage of ``op`` that uses ``resource``."""
    for s, res in enumerate(LANE_OPS[op].stages):
        if resource in res:
            return s
    raise KeyError(f"op {op!r} does not use {resource!r}")


def claims(resource: str) -> list:
    """``[(op, stage)]`` of every stage that occupies ``resource``."""
    return [(op.name, s) for op in LANE_OPS.values() for s, res in enumerate(op.stages) if resource in res]


# --------------------------------------------------------------------------- controller timing
#: Fixed state lengths of the controllers (cycles), each derived from the op table where it
#: waits for a lane op.
#: the controller's commands to the distance engine (point start/next, row reads) are registered
#: at the engine: they act one cycle after the controller's state says so
ENGINE_CMD = 1
#: the controller's ops to the lanes are registered once (a broadcast register: the fan-out to K
#: lanes starts at a flip-flop); the scan shift is the exception (its own register, `SCAN_PIPE`)
BROADCAST = 1
#: row-buffer read command register (ENGINE_CMD) + read (1) + bank register (1) + multiplexer
#: register (1) + d = D - m (1)
ROW_READ = ENGINE_CMD + 4
#: feature-memory read (1) + two register levels at each bank's output (the block RAM's slow
#: clock-to-out ends at a flip-flop beside the RAM, the second carries the data towards the lanes)
#: + x_i multiplexer / x_j registers (1)
DIST_FEATURE_READ = 4
#: the last feature beat accepted -> the engine's `loaded` flag (a register, so the feature stream's
#: valid does not reach the run FSM and the search controller in one cycle) -> the search's ``go``
LOAD_GO = 1
PSTART = 1          # start point 0's distance phase
RANGE = 1           # u_lo = -(bitlen(max - min) + 2) 2^U from the registered span; PRNG seeds loaded
PINIT = 1           # bracket / amplitude / best / population reset
SCAN_PIPE = 1       # the scan's error register: the last lane's update lands one cycle after it
#: the next pass's SETUP starts right after SCAN_PIPE with its CAND issued speculatively; the stop
#: rule is registered in SETUP's first cycle (point-parallel: each lane's flag), reduced to one flag
#: in its second (point-parallel: the AND over the K lanes) and applied in its third: a search's last
#: pass costs DECIDE more cycles before OUT (the speculative CAND is dropped)
DECIDE = 3
OUT = 1             # result into the output register
#: SETUP: CAND issued; the stream's row reads start ROW_READ cycles before bm is needed
SETUP = latency("cand") - ROW_READ
#: DRAIN: after the last stream read, until the last KERN's T is in the lanes' scan registers (read
#: pipeline, broadcast register, KERN up to its `t` stage): the scan starts feeding the ROWEND unit
DRAIN = ROW_READ + BROADCAST + stage_of("kern", "t")
#: The shared ROWEND unit (`hw.rowend.RowendUnit`, at the scan chain's exit beside the search
#: controller): H = log2 Z + T/Z of one lane's (u, Z, T) per cycle, or log2 of the PERP register
#: (``ext``, the target entropy).  Its stages, stage 0 = the cycle the item is presented (lane 0's
#: scan registers); the function unit's four stages run on two ROMs at once (LOG and RECIP):
ROWEND_STAGES = (("in", "Z (or PERP) into the normaliser register; u, T alongside"),
                 ("norm", "leading one p of the normaliser register"),
                 ("norm_shift", "mantissa mn, e = p - W (PERP: p - perp_frac), the shift 2W - Hf + e"),
                 *((st, "LOG(mn) and RECIP(mn), two function units") for st in FU),
                 ("mul_in", "r = RECIP(mn) and T into the multiplier's operand registers; log2(1 + m) registered"),
                 ("mul", "partial products (<= 18 x 18 bits each)"),
                 ("mul_sum", "T r"),
                 ("hshift", "T r >> 4a (the shift's coarse part)"),
                 ("h", "H = (e << Hf) + log2(1 + m) + (T r >> 4a) >> b; PERP: without the T/Z term"))
#: cycles from an item at the unit's input to (u, H) in its output registers
ROWEND = len(ROWEND_STAGES)
#: point-parallel RANGE: lane c's min/max selected (registered in the engine), its span
#: registered, its u_lo registered, then written to lane c's bracket: K + PP_RANGE_PIPE cycles
PP_RANGE_PIPE = 3
#: point-parallel RANGE: a lane's min / max select reaches the controller this many cycles after
#: it is presented (the select registered in the engine, a group-of-MM_SEL_GROUP select
#: registered, the group select registered), so the controller presents it that many cycles
#: minus one ahead of its use
MM_SEL_LATENCY = 3
MM_SEL_GROUP = 4
#: the START strobe and the START checks are registered: START acts one edge after its write
START_REGISTER = 1
#: TGT: START computes log2(PERP) on the ROWEND unit (the external operand) + 1 hand-over
START_TARGET = ROWEND + 1


#: t-SNE controller (`hw.tsne`, docs/hardware.md "t-SNE engine")
TSNE_READ = 1       # y_j / S_ij memory read before a TPAIR issue (both registered again for its tdiff stage)
#: SCALE (a run's first state): N reads of y, the OR of their magnitudes registered, then the
#: pair shift (`tsne_fixed.pair_shift`) registered: N + TSNE_SCALE cycles before PRIME
TSNE_SCALE = 2
#: PRIME (an iteration's first cycles): the read-ahead of y_0 (and a ``tsnap`` that clears the live
#: sums), then K cycles in which lane l latches y_l (``tnext``); the STREAM's first cycle loads them
TSNE_PRIME = 1
#: INIT: per point, lane 0's PRNG loaded and stepped for coordinate 0, then for coordinate 1
TSNE_INIT_POINT = 2 * (latency("prng") + 1)
#: the update (`hw.tsne_update`): point i's memories read in cycle c, ``tupd`` issued to slice
#: i mod S in c + TSNE_READ, its results through the slice multiplexer register, written in cycle
#: c + TSNE_UPD_PIPE
TSNE_UPD_PIPE = TSNE_READ + latency("tupd") + 1
#: the first stage of ``tupd`` that reads the iteration's reciprocal of Zq (``rz``, the ``rrz``
#: products); the shifts derived from Zq's exponent are read later (registered twice on the way)
TUPD_RZ_STAGE = dict((name, s0) for name, _, _, s0, _ in TUPD_MULS)["rrz"]
assert dict(TUPD_MARKS)["gr"] - 3 >= TUPD_RZ_STAGE
#: RECIP (an iteration's last state): ``trecip`` of Zq on lane 0 in its first cycle, captured
#: ``latency("trecip")`` cycles after the issue; the update starts in RECIP's last cycle (its first
#: read in the next), so that point 0 reaches `TUPD_RZ_STAGE` as ``rz`` is captured: the update
#: overlaps the reciprocal.  ``ca`` (``ex rn >> coef_frac``) is not computed here: it is ``rn``
#: after the exaggeration and, during it, the ``tmul`` of SCALE (`TSNE_CA_ISSUE`), once per run.
TSNE_RECIP = max(1, latency("trecip") + 1 - TSNE_READ - TUPD_RZ_STAGE)
#: SCALE's cycle (from 0) of the ``tmul`` ``ex rn`` on lane 0's TMW (recip(N) issued in SCALE's
#: first cycle is captured by then); SCALE lasts at least until it (`tsne_schedule.scale_cycles`)
TSNE_CA_ISSUE = latency("trecip") + 1
#: a block's Zq: the lanes' snapped Zq registers (``tsz``, written by its ``tzsnap``) are read this
#: many cycles after the snap's issue by the Zq adder tree (`tsne_zq_levels` registered levels of
#: 4-input sums), whose sum is added to the run's Zq a cycle later
TSNE_ZQ_TAP = stage_of("tzsnap", "tsz") + 1


def tsne_zq_levels(lanes: int) -> int:
    """Registered levels of the Zq adder tree over the K lanes' scan registers (4 inputs a level)."""
    levels, width = 1, 4
    while width < lanes:
        levels, width = levels + 1, width * 4
    return levels


def tsne_flush_cycles(n: int, lanes: int, slices: int, *, symmetric: bool) -> int:
    """FLUSH: cycles from the last block's snap (the issue cycle of its last ``tpair`` slot) to the
    first cycle of RECIP, the larger of (Z) the run's Zq complete: `TSNE_ZQ_TAP`, the tree's levels
    and its addition; (H) the update's first read (`TSNE_RECIP` after RECIP's first cycle) reads the
    A, R of each point of the last block after the block's hand-over wrote them: point ``B K + l``
    (``B = (N - 1) div K``) is written in shift ``l`` (``latency("tsnap") + tsne_scan_delay``
    after the snap; symmetric: one cycle later; so is each earlier block's, after its own snap) and
    read `tsne_update_offset` (B K + l) after the
    first read (read ports are not transparent: a cycle after the write at the earliest); l = 0
    binds (the offsets grow by at least 1 a point); (T) the next iteration's PRIME, whose ``tsnap``
    writes the scan registers, after the last block's hand-over.  The (Z) path starts at the last
    block's ``tzsnap``, `tsne_zq_lead` slots before its snap.  Only short classes wait for (H)."""
    shift0 = latency("tsnap") + tsne_scan_delay(lanes, symmetric)
    b_last = (n - 1) // lanes
    n_min, ii = b_last * lanes + 1, pair_interval("tpair")
    # (Z) from the last block's tzsnap (its lead at least that of a class of B K + 1 points)
    zq = TSNE_ZQ_TAP + tsne_zq_levels(lanes) + 1 - ii * tsne_zq_lead(n_min, lanes, symmetric)
    # (H) for each block b (short blocks: several hand-overs in flight), its snap II x the slots of
    # the blocks after it before the last one's, at least those of a class of b_last K + 1 points
    # (the fewest: a function of B, as the engine tabulates FLUSH by B)
    ho, before = -(1 << 30), 0
    for b in range(b_last, -1, -1):
        ho = max(ho, shift0 + (1 if symmetric else 0) + 1 - TSNE_RECIP
                 - tsne_update_offset(b * lanes, slices) - ii * before)
        before += (tsne_ring_steps(lanes, True) + n_min - tsne_block_start(b, n_min, lanes, True)
                   if symmetric else tsne_ordered_slots(n_min, lanes))
    # (T) the next PRIME (its tsnap writes the scan registers) after the last block's hand-over,
    # against the overlap delay's least value for this B (base and PRIME term: a function of B, as
    # the engine tabulates FLUSH by B)
    ot = tsne_overlap_terms(lanes, slices, symmetric=symmetric)
    tail = (shift0 + (1 if symmetric else 0) + lanes - TSNE_RECIP
            - ot["base"] - ot["prime"][min(lanes, b_last * lanes + 1) - 1])
    return max(zq, ho, tail, pair_interval("tpair") - TSNE_READ + 1)


def tsne_zq_lead(n: int, lanes: int, symmetric: bool) -> int:
    """Slots by which the last block's ``tzsnap`` precedes its ``tsnap`` (symmetric: it is issued
    with the last ring step; the block's broadcast slots, `tsne_broadcast_min` of them, pair
    nothing); 0 for ordered pairs (both with the last slot)."""
    if not symmetric:
        return 0
    blocks = -(-n // lanes)
    return n - tsne_block_start(blocks - 1, n, lanes, True)


def tsne_scan_write() -> int:
    """The stage in which ``tsnap`` writes the registers ``tscan`` shifts (A, R: ``tsa``; the Zq
    partial ``tsz`` stays in the lane and is not shifted)."""
    shifted = set().union(*LANE_OPS["tscan"].stages)
    return min(s for s, r in enumerate(LANE_OPS["tsnap"].stages) if set(r) & shifted)


def tsne_handover_ok(n: int, lanes: int) -> bool:
    """Does a block's background hand-over (``tsnap``, then K ``tscan`` shifts out of the scan
    registers) end before the next block's ``tsnap`` writes them?  The next snap's write is
    N II + `tsne_scan_write` cycles after this one's issue."""
    if n <= lanes:          # one block: nothing runs beside a STREAM
        return True
    first_write = tsne_scan_write()
    return latency("tsnap") + lanes - 1 < n * pair_interval("tpair") + first_write


def tsne_ordered_min_slots(lanes: int) -> int:
    """Ordered pairs: the fewest slots of a block's stream when there are several blocks (the
    smallest count for which `tsne_handover_ok`)."""
    s = lanes + 1
    while not tsne_handover_ok(s, lanes):
        s += 1
    return s


def tsne_ordered_slots(n: int, lanes: int) -> int:
    """Ordered pairs: slots per block, ``j = 0 .. slots - 1``: N, padded with masked slots (``j >=
    N``: no pair issued) to `tsne_ordered_min_slots` when N > K, so that a block's hand-over ends
    before the next block's snap."""
    return n if n <= lanes else max(n, tsne_ordered_min_slots(lanes))


#: symmetric dataflow (`AccelConfig.tsne_symmetric`, docs/hardware.md "t-SNE engine"): block b
#: streams only j > i's; each lane's pair also yields the j-side terms (``-t - sticky``, exact), the
#: K lanes' terms are summed by an adder tree (``ceil(log2 K)`` registered levels, then the sticky
#: count added: `tsne_jtree`) and subtracted from point j's entry of the J memory (read, then write:
#: TSNE_JRMW); a block's hand-over adds J to the lanes' sums as they leave.
TSNE_JRMW = 2


def tsne_jtree(lanes: int) -> int:
    """Cycles from a lane's j-side term (the ``tacc`` stage of ``tpair``) to the tree's sum."""
    return max(1, (lanes - 1).bit_length()) + 1


def tsne_ring_steps(lanes: int, symmetric: bool) -> int:
    """Ring steps at the start of each block's stream (symmetric only): in step ``t`` (1 .. K div 2)
    lane ``l`` pairs its point with the block's point ``(l + t) mod K``, whose ``y`` the engine's
    visitor ring brings to it (`tsne_ring_issue`), so the block's own K (K - 1) / 2 pairs take
    K div 2 slots instead of the K - 1 of a broadcast triangle."""
    return lanes // 2 if symmetric else 0


def tsne_ring_issue(t: int, lane: int, lanes: int) -> bool:
    """Does lane ``lane`` have a pair in ring step ``t``?  Every lane while 2t < K; in the step
    t = K / 2 (even K) only lanes l < K / 2, as pair (l, l + K/2) is pair (l + K/2, l + K).
    ``t`` may be an Amaranth value (the t-SNE engine's issue test is built from this function)."""
    return (2 * t < lanes) | (lane < lanes - t)


def tsne_scan_delay(lanes: int, symmetric: bool) -> int:
    """Extra cycles between a block's ``tsnap`` and its first ``tscan`` shift (symmetric only), the
    larger of: (J) the first shift reads the J entry of the block's first point, whose last write
    can come ``tacc + jtree + TSNE_JRMW - 1`` cycles after the block's last slot's issue; (V) the
    shift of the block's point ``k`` reads its visitor sums, written to the V memory ``tacc + 2 +
    ((k - R) mod K)`` cycles after the issue of the block's last ring step, which comes at least
    one slot (`tsne_broadcast_min`) before the last slot.  A read must come a cycle after the
    write."""
    if not symmetric:
        return 0
    ac0, snap = uses("tpair", "tacc")[0], latency("tsnap")
    j_need = ac0 + tsne_jtree(lanes) + TSNE_JRMW - snap
    ring = tsne_ring_steps(lanes, True)
    v_need = ac0 + 3 + (lanes - ring) - pair_interval("tpair") - snap
    return max(0, j_need, v_need)


def tsne_min_slots(lanes: int) -> int:
    """Symmetric: the fewest slots of a block's stream (ring steps and broadcast slots) for the
    previous block's hand-over (its delayed snap, then K shifts) to end before this block's
    ``tsnap`` writes the scan registers (`tsne_scan_write`; `tsne_broadcast_min`)."""
    first_write = tsne_scan_write()
    ii = pair_interval("tpair")
    need = latency("tsnap") + tsne_scan_delay(lanes, True) + lanes - 1 - first_write
    return max(1, need // ii + 1)


def tsne_broadcast_min(lanes: int, *, first: bool, last: bool) -> int:
    """Symmetric: the fewest broadcast slots after a block's ring steps: at least one (the block's
    snap and hand-over are issued with a broadcast slot); `tsne_min_slots` in all (not block 0);
    and, unless it is the last block, enough for the visitor flush (K cycles from two cycles after
    the last ring step's y term) to end before the next block's first ring term, ``(x + 1) II > K
    + 1``."""
    need = 1
    if not first:
        need = max(need, tsne_min_slots(lanes) - tsne_ring_steps(lanes, True))
    if not last:
        need = max(need, (lanes + 1) // pair_interval("tpair"))
    return need


def tsne_block_start(b: int, n: int, lanes: int, symmetric: bool) -> int:
    """First j of block b's broadcast: 0 (ordered pairs), or (symmetric) ``bK + K`` (the block's own
    pairs are its ring steps', `tsne_ring_steps`), earlier (masked slots) for at least
    `tsne_broadcast_min` broadcast slots, never below 0."""
    if not symmetric:
        return 0
    blocks = -(-n // lanes)
    bmin = tsne_broadcast_min(lanes, first=b == 0, last=b == blocks - 1)
    return max(0, min(b * lanes + lanes, n - bmin))


def tsne_stream_ok(n: int, lanes: int) -> bool:
    """Symmetric: has every block at least `tsne_broadcast_min` broadcast slots (none would need a
    j below 0)?  `AccelConfig` checks it for every N up to 3K (the tightest cases)."""
    blocks = -(-n // lanes)
    return all(n - tsne_block_start(b, n, lanes, True)
               >= tsne_broadcast_min(lanes, first=b == 0, last=b == blocks - 1) for b in range(blocks))


def tsne_update_period_ok(period: int) -> bool:
    """Can one update slice take a ``tupd`` every ``period`` cycles?  Not if two stages that claim
    one resource are a multiple of ``period`` apart (true for `pair_interval` and for any period >=
    the op's latency, not for every period in between)."""
    for res in RESOURCES:
        st = uses("tupd", res)
        if any((b - a) % period == 0 for a in st for b in st if b > a):
            return False
    return True


def tsne_update_interval(slices: int) -> int:
    """Cycles between two points of the update (`hw.tsne_update`): S slices
    (``AccelConfig.tsne_update_slices``), slice ``i mod S`` takes point ``i``, so a slice gets a
    point every S x interval cycles, which must be a `tsne_update_period_ok` period: the smallest
    interval >= ceil(`pair_interval` ("tupd") / S) with that: 2 for S = 1 (`TUPD_INTERVAL`), 1 for
    S >= 2 (a point every cycle)."""
    if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
        raise ValueError(f"slices must be an integer >= 1 (tsne_update_slices), got {slices!r}")
    return _update_interval(slices)


@functools.lru_cache(maxsize=None)
def _update_interval(slices: int) -> int:
    iv = -(-pair_interval("tupd") // slices)
    while not tsne_update_period_ok(slices * iv):
        iv += 1
    return iv


def tsne_update_offset(i: int, slices: int) -> int:
    """Cycles from an update's first read to the read of point ``i``: slice ``i mod S`` takes point
    ``i``; the S slices take their points in a burst of S consecutive cycles, one burst every S x
    `tsne_update_interval` cycles (each slice's period), so that block 0 of the next iteration,
    whose points the first bursts update, is written as early as the slices allow."""
    s = slices
    return (i // s) * s * tsne_update_interval(s) + i % s


def tsne_update_cycles(n: int, slices: int) -> int:
    """Cycles of an update that runs alone (the last iteration's, or one whose embedding is
    traced): from its first read to the cycle after its last write (`tsne_update_offset` of the
    last point, then the pipeline)."""
    return tsne_update_offset(n - 1, slices) + TSNE_UPD_PIPE + 1


def tsne_overlap_delay(n: int, lanes: int, slices: int, *, symmetric: bool) -> int:
    """Cycles from the first read of an overlapped update (cycle ``u0``: point ``i`` read in ``u0 +
    o(i)``, `tsne_update_offset`, written in ``u0 + o(i) + TSNE_UPD_PIPE``) to the next iteration's
    PRIME (``p0``): the smallest ``p0 - u0`` with every read of a point after its write (read ports
    not transparent): PRIME reads ``y_l`` in ``p0 + l`` (l < min(K, N)); block 0 of the STREAM reads
    ``y_j`` in ``p0 + TSNE_PRIME + K + II s`` for its slot s: s = j (ordered pairs), or (symmetric)
    s = R + j - K for the points j >= K of its broadcast (R ring steps first; its masked slots
    below K read nothing that is used; a start below K, for N < K + `tsne_broadcast_min`, only
    reads later).  (The next iteration's hand-over, which overwrites A and R, comes after the
    update has read them for every N, K, S: the event-level check in ``tests/test_tsne_schedule.py``
    covers both.)  Evaluated from `tsne_overlap_terms`, as the engine does for its run-time N."""
    t = tsne_overlap_terms(lanes, slices, symmetric=symmetric)
    best = t["prime"][min(lanes, n) - 1]
    if n - 1 >= t["j0"]:
        h = t["h0"]
        if n - 1 >= t["j1"]:
            h = max(h, ((n - 1) // slices) * t["D"] if t["D"] >= 0 else t["h1"])
        best = max(best, h - t["lead"])
    return t["base"] + best


def tsne_overlap_terms(lanes: int, slices: int, *, symmetric: bool) -> dict:
    """The constants of `tsne_overlap_delay` (the t-SNE engine evaluates the same expression for its
    run-time N).  With ``o`` = `tsne_update_offset` (P = S IV cycles a burst) the delay is ``base +
    max(prime[min(K, N) - 1], max_j (o(j) - II j) - lead)`` over the STREAM's read points j in
    ``[j0, N - 1]``.  ``o(j) - II j = q D - r (II - 1)`` for ``j = q S + r`` (``D = P - II S``)
    falls within a burst, so the largest is at ``j0`` (``h0``) or at a burst's first point: the
    last one, ``((N - 1) div S) D``, when D >= 0, else the first after ``j0`` (``j1``: ``h1``).
    ``prime[l]`` = the largest ``o(l') - l'`` for ``l' <= l``: ``(l div S) S (IV - 1)``."""
    iv, ii, s = tsne_update_interval(slices), pair_interval("tpair"), slices
    assert ii >= 2, "a burst's reads must fall behind the stream's (II >= 2)"
    j0 = lanes if symmetric else 0
    lead = TSNE_PRIME + lanes + (ii * (tsne_ring_steps(lanes, True) - lanes) if symmetric else 0)
    d = s * iv - ii * s
    j1 = (j0 // s + 1) * s
    return {"base": TSNE_UPD_PIPE + 1, "prime": tuple((l // s) * s * (iv - 1) for l in range(lanes)),
            "j0": j0, "h0": tsne_update_offset(j0, s) - ii * j0, "j1": j1, "D": d,
            "h1": tsne_update_offset(j1, s) - ii * j1, "lead": lead}


# --------------------------------------------------------------------------- lending the lanes
# The next point's distance row is computed while the current point is searched: the controller
# grants a feature step to the distance engine in every cycle in which the step's `dist` op
# will find the lanes' multiplier free.  A grant in cycle c reaches the multiplier
# (`dist` stage `mul_in`) in cycle c + GRANT_LEAD.
GRANT_LEAD = ENGINE_CMD + DIST_FEATURE_READ + stage_of("dist", "mul_in")
#: the stream flag, delayed by this many cycles, blocks a grant (the `kern` ops' multiplier)
STREAM_NO_GRANT_DELAY = ROW_READ + BROADCAST + stage_of("kern", "mul_in") - GRANT_LEAD
#: the cycle this many cycles before SETUP has no grant (the next `cand` op's multiplier)
CAND_NO_GRANT = GRANT_LEAD - BROADCAST - stage_of("cand", "mul_in")
#: ... which is this many cycles before the last SCAN cycle; the controller withholds the grant
#: in the last CAND_SCAN_BACK + 1 of the A + ROWEND scan positions (whatever trace back-pressure
#: does to SCAN).  The ROWEND unit has a multiplier of its own: SCAN grants all its other cycles.
CAND_SCAN_BACK = CAND_NO_GRANT - SCAN_PIPE - 1
assert STREAM_NO_GRANT_DELAY >= 0 and 0 <= CAND_SCAN_BACK < ROWEND


def pass_grant_mask(n: int, active: int) -> list:
    """Per cycle of one pass (from its SETUP's first cycle, ``pass_cycles`` long): granted?"""
    drain = SETUP + n
    scan_end = drain + DRAIN + active + ROWEND            # the SCAN_PIPE cycle
    mask = [True] * (scan_end + SCAN_PIPE)
    for c in range(SETUP + STREAM_NO_GRANT_DELAY, drain + STREAM_NO_GRANT_DELAY):
        mask[c] = False                                   # KERN ops at the multiplier
    for c in range(scan_end - 1 - CAND_SCAN_BACK, scan_end):
        mask[c] = False                                   # the next (speculative) CAND
    return mask


def pass_grants(n: int, active: int) -> list:
    """Granted cycles of one pass as ``[(offset, length)]`` from its SETUP's first cycle."""
    segs, start = [], None
    for c, g in enumerate(pass_grant_mask(n, active) + [False]):
        if g and start is None:
            start = c
        elif not g and start is not None:
            segs.append((start, c - start))
            start = None
    return segs


#: affinity controller (`hw.affinity`, docs/hardware.md "Affinity phase"); cycles are counted
#: between the controller's own state cycles (its lane ops pass the broadcast register)
#: PSTART -> CAND issue: the u memory read (address = point register)
AFF_CAND = 1
#: last STREAM1 read -> TRECIP issue: the last KERN's Z is visible (read pipeline, broadcast,
#: KERN up to its `z` stage + 1)
AFF_Z = ROW_READ + BROADCAST + stage_of("kern", "z") + 1
#: TRECIP issue -> first STREAM2 read: r and p are captured BROADCAST + latency(trecip) cycles
#: after the issue and must be in their registers when the first KPROB leaves the read pipeline
AFF_RECIP = max(1, BROADCAST + latency("trecip") + 1 - ROW_READ)
#: STREAM2 read -> the P write of that element (RMW read one cycle earlier)
AFF_WRITE = ROW_READ + BROADCAST + latency("kprob")

#: the affinity controller's P read port for the P dump: the bank's read, then its data register
#: (a bank's output going straight into the dump's multiplexer was 11.6 ns)
P_READ = 2
#: P dump (`hw.pdump`, DEBUG bit 0): its ``go`` -> the first beat (the read of S_00, P_READ, then
#: the output register); one beat per cycle after that
PDUMP_FIRST = P_READ + 1
#: the last beat -> ``done`` (registered), in which cycle the sequencer sees it
PDUMP_END = 1
#: last STREAM2 read -> next PSTART: the next CAND's multiplier slot must follow the last
#: KPROB's (the P writes of the row finish in the background)
AFF_GAP = ROW_READ + stage_of("kprob", "mul_in") - stage_of("cand", "mul_in") - AFF_CAND + 1
#: the CAND must reach MULA before the first DIST op (PSTART + ENGINE_CMD + 1 + GRANT_LEAD)
assert AFF_CAND + BROADCAST + stage_of("cand", "mul_in") < ENGINE_CMD + 1 + GRANT_LEAD
#: the CAND's bm/shift registers are rewritten after the last KPROB read them
assert AFF_GAP + AFF_CAND + BROADCAST + stage_of("cand", "bm") > ROW_READ + BROADCAST + stage_of("kprob", "tshift")

#: fused affinity rows (session 39; `hw.affinity` ``row_go``, `hw.search` AFFROW): after point i's
#: result beat (OUT) the search hands the lanes to the affinity controller, which runs row i's
#: affinities on the row and ``m_i`` the search left in the row buffer, then gives them back
#: (`affinity_schedule.fused_row_cycles`).  The row's first cycle -> its CAND's broadcast: the
#: search granted the distance engine up to the cycle before, and a DIST op granted then reaches
#: MULA GRANT_LEAD cycles later (the row grants nothing)
AFF_FUSED_CAND = CAND_NO_GRANT
#: a fused row (not the class's last): last STREAM2 read -> its end (``row_done``; the search's WAITD
#: follows): the search's next CAND (broadcast after WAITD, RANGE, PINIT) reaches MULA after the
#: last KPROB.  The class's last row ends AFF_WRITE cycles after its last read (its P writes done)
AFF_FUSED_GAP = max(1, ROW_READ + stage_of("kprob", "mul_in") - stage_of("cand", "mul_in") - RANGE - PINIT - 1)
assert AFF_FUSED_GAP + 1 + 1 + RANGE + PINIT + stage_of("cand", "bm") > ROW_READ + stage_of("kprob", "tshift")


def dist_done(lanes: int) -> int:
    """Cycles from the lanes' final min/max to ``dist_done``: the engine scans the lanes one per
    cycle through its lane select (``MM_SEL_LATENCY``) into a running min/max pair, then the
    result register."""
    return lanes + MM_SEL_LATENCY


def dist_done_latency(lanes: int) -> int:
    """``dist_done`` is high in cycle ``point_start + G*D + dist_done_latency``."""
    return ENGINE_CMD + DIST_FEATURE_READ + latency("dist") + dist_done(lanes)


def point_pre(lanes: int) -> int:
    """Cycles from PSTART to the first SETUP, not counting the G*D feature cycles."""
    return PSTART + dist_done_latency(lanes) + RANGE + PINIT


def pass_overhead() -> int:
    """Cycles of a pass besides the N stream cycles and the A scan (feed) cycles."""
    return SETUP + DRAIN + ROWEND + SCAN_PIPE


# --------------------------------------------------------------------------- entropy and grid phases
#: `hw.entropy.CellUnit` / `hw.entropy.EntropyUnit` / `hw.grid.GridSampler` (docs/hardware.md,
#: "Entropy and grid phases"); the cycle models are `golden_model.phase_schedule`.
#: a strobe to the cell unit or a unit's ``done`` is a register: the receiver acts one cycle later
CELL_HANDOFF = 1
#: MINMAX: embedding read (1) + min/max registers (1), then the span register (1)
CELL_MINMAX = 3
#: a cell pass: the first load of the divider this many cycles after the strobe (address, read
#: -> d = y - lo register, the partial products d g_lo, d g_hi, their sum d g)
CELL_FILL = 5
#: after a point's last divider step: quotient register, cell / in-cell offset register, cell
#: index (row g + col) / the offset's two squares registers, the squared offset (their sum) register
CELL_OUT = 4
#: histogram read-modify-write (`hw.entropy.histogram_rmw`): the count read in the output cycle,
#: registered, count + 1 written two cycles after the read (a block RAM's output goes to a
#: register, not through an adder into its own write port)
HIST_RMW = 2
#: entropy sum per cell: count read (1), count register (1), normaliser register (1), LOG on the
#: function unit (len(FU)), c L(c) product register (1); S accumulated in the cycle after
ENT_SUM_PIPE = 1 + 1 + 1 + len(FU) + 1
#: FIN: N normalised (1), LOG and RECIP issued back to back (FU results after len(FU) + 1),
#: r captured, then the shift-add S r (w_frac + 1 cycles, :func:`ent_fin`), the H register
ENT_FIN_FIXED = 2 + len(FU) + 1 + 1
#: grid sampler (`hw.grid`): a scan (top cell: the counters; pick: the point memory) compares the
#: data of its last address this many cycles after it (read, data register)
GRID_SCAN_PIPE = 2
#: one decision cycle after each top scan and pick scan
GRID_DECIDE = 1
#: after each search pass: the last point's count written (SETTLE), then the decision on the
#: occupancy register (CHECK; deciding in the write cycle put the count RAM's output before the
#: decision's enables)
GRID_CHECK = 2
#: a pick starts with the read of its cell from the top list
GRID_TOP_READ = 1
#: EMIT: one cycle per point, then the cycle that sends the last beat and raises ``done``
GRID_EMIT_END = 1


def ent_fin(w_frac: int) -> int:
    """Cycles of the entropy unit's FIN state (N's log2 and reciprocal, ``S r``, H register)."""
    return ENT_FIN_FIXED + w_frac + 1


PHASES = (
    ("LOAD_GO", str(LOAD_GO), "the last feature beat accepted (cycle 0) -> `loaded` registered -> the search's `go`"),
    ("PSTART (point 0)", str(PSTART), "start point 0's distance phase (cycle LOAD_GO + 1); point i+1's starts in point i's PINIT "
                                      "and runs on grants"),
    ("feature reads", "G*D", "lane `l` of group `g` reads point `gK+l`, feature `d`; bank `i mod K` supplies `x_i`"),
    ("read latency + lane DIST", f"{ENGINE_CMD} + {DIST_FEATURE_READ} + {latency('dist')}",
     "command register at the engine, feature reads, lane DIST: row writes, lane min/max"),
    ("DONE", f"K + {MM_SEL_LATENCY}", "min/max over the lanes, one per cycle through the lane select "
                                      f"({MM_SEL_LATENCY} cycles) into a running pair, + result register, `dist_done`"),
    ("WAITD", ">= 1", "until the point's `dist_done` (at once if it came during the previous search)"),
    ("RANGE", str(RANGE), "`u_lo = -(bitlen(max - min) + 2) 2^U`; PRNG seeds loaded; next point selected"),
    ("PINIT", str(PINIT), "bracket, amplitude, best, population reset; the next point's row starts"),
    ("*per pass:* SETUP", str(SETUP), f"CAND issued (after the first pass: passes, amplitude updated in the same "
                                      f"cycle); the stream starts {ROW_READ} cycles before `bm` is needed"),
    ("STREAM", "N", "one row element per cycle to all lanes (j == i masked)"),
    ("DRAIN", str(DRAIN), f"read command register + row read + bank and multiplexer registers + `d = D - m` register "
                          f"({ROW_READ}) + broadcast register ({BROADCAST}) + KERN pipeline up to its `t` stage "
                          f"({DRAIN - ROW_READ - BROADCAST}): Z, T final in the lanes' scan registers"),
    ("SCAN", f"A + ROWEND ({ROWEND}) + {SCAN_PIPE}",
     "lane 0's (u, Z, T) into the shared ROWEND unit, one lane per cycle (the chain shifts towards lane 0); "
     f"ROWEND = {ROWEND} cycles later its (u, H) go into the error register, one lane per cycle; "
     "best-ever / bracket / population update one cycle later; trace beats from the unit's output; "
     "FWA: PRNG step in SCAN_PIPE"),
    ("DECIDE (last pass only)", str(DECIDE), "the next SETUP's first three cycles: stop rule registered (per "
                                              "lane in point-parallel), reduced to one flag, then applied (the "
                                              "speculative CAND is dropped) -> OUT"),
    ("OUT", str(OUT), "result into the output register; the beat appears in the next cycle, which is "
                      "also the next point's WAITD"),
)


def markdown() -> str:
    """The docs' op and phase tables (docs/hardware.md between the timing markers)."""
    L = ["| lane op | latency | stage resources (stage 0 = issue cycle) | computes |", "|---|---:|---|---|"]
    for op in LANE_OPS.values():
        st = "; ".join(f"{s}: {', '.join(r)}" for s, r in enumerate(op.stages))
        L.append(f"| `{op.name}` | {op.latency} | {st} | {op.meaning} |")
    L += ["", "| ROWEND unit stage | does |", "|---|---|"]
    L += [f"| {s}: `{name}` | {what} |" for s, (name, what) in enumerate(ROWEND_STAGES)]
    L += ["", "| phase | cycles | detail |", "|---|---|---|"]
    L += [f"| {a} | {b} | {c} |" for a, b, c in PHASES]
    L += ["", "```",
          f"pass_cycles(N, A)  = SETUP + N + DRAIN + A + ROWEND + SCAN_PIPE = N + {pass_overhead()} + A",
          "point_cycles       = G*D + POINT_PRE + passes * pass_cycles + DECIDE + OUT  (point 0; later points: below)",
          "POINT_PRE          = PSTART + ENGINE_CMD + DIST_FEATURE_READ + dist + DONE + RANGE + PINIT",
          "                   = " + ", ".join(f"{point_pre(k)} (K={k})" for k in (4, 8, 16, 32)),
          "beat(0)            = 1 + point_cycles(0)",
          "OUT(k)             = first SETUP(k) + passes(k) * pass_cycles + DECIDE;  beat(k) = OUT(k) + 1",
          "first SETUP(k+1)   = max(beat(k), dist_done(k+1)) + 1 + RANGE + PINIT",
          "dist_done(k+1)     = (cycle of the G*D-th grant from first SETUP(k)) + ENGINE_CMD + dist_done_latency(K) - 1",
          "grants             = timing.pass_grants(N, A) in each pass of point k, then every cycle from OUT(k)",
          "trace beat (pass p, lane l) = first SETUP + p*pass_cycles + SETUP + N + DRAIN + ROWEND + l",
          "done (busy = 0)    = beat(N-1) + 1",
          f"CMD=START write -> START acts: {START_REGISTER} cycle (registered checks)",
          f"START -> features accepted: {START_TARGET} cycles (target entropy log2 PERP on the ROWEND unit)",
          "```"]
    return "\n".join(L) + "\n"


BEGIN, END = "<!-- timing-table -->", "<!-- /timing-table -->"


def update_doc(path: str) -> None:
    """Rewrite the generated section of ``path`` (between the timing markers)."""
    from pathlib import Path
    text = Path(path).read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    Path(path).write_text(f"{head}{BEGIN}\n(generated by `python -m golden_model.timing --markdown`)\n\n"
                          f"{markdown()}{END}{tail}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--markdown"]:
        sys.stdout.write(markdown())
    elif args[:1] == ["--doc"] and len(args) == 2:
        update_doc(args[1])
    else:
        print("usage: python -m golden_model.timing --markdown | --doc docs/hardware.md", file=sys.stderr)
        sys.exit(2)
