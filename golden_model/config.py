"""The one configuration object of the accelerator.

`AccelConfig` is read by the golden model, the RTL generator (`hw`), the cocotb testbenches (`tb`)
and the reports (`synth`).  It is frozen: derive a variant with `dataclasses.replace` or
`AccelConfig.with_overrides`.  Every field is validated on construction; an invalid value raises
`ConfigError` naming the parameter and its allowed range.

All numeric choices here are this project's own (the source papers' hardware parameters are not
available to us); see docs/fixed_point.md for the arithmetic they define.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

POLICIES = ("bisection", "fwa", "ksection")
PERPLEXITY_SEARCHES = ("fixed", "fwa")


class ConfigError(ValueError):
    """An accelerator parameter is out of its allowed range."""


#: Allowed ranges of the size parameters (inclusive), read by the validation below and by the
#: data checks / CLI messages that suggest a setting (golden_model.dataio, golden_model.cli).
SIZE_LIMITS = {"lanes": (1, 256), "n_max": (2, 4096), "d_max": (1, 1024), "feature_bits": (1, 16)}
#: Largest grid side the grid sampler tries (float `reference.grid_sample` and fixed-point
#: `grid_fixed.grid_sample_fixed`); with `grid_frac` it sets the divider's quotient width.
GRID_G_LIMIT = 4096


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is out of range: allowed [{lo}, {hi}]")


def _check_float(name: str, value: Any, lo: float, hi: float, lo_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number in {'(' if lo_open else '['}{lo}, {hi}], got {value!r}")
    if value > hi or value < lo or (lo_open and value == lo):
        raise ConfigError(f"{name}={value} is out of range: allowed {'(' if lo_open else '['}{lo}, {hi}]")


def bit_length(x: int) -> int:
    return int(x).bit_length()


#: Fields that change the hardware's structure and cycle counts but no bit of any result (the
#: golden model's arithmetic does not read them; `tests/test_config.py` checks a t-SNE and a
#: selection with two values of each): a stored study made with another value of these is still
#: a study of this configuration (`golden_model.evaluation.run.load_kl_study`).
RESULT_NEUTRAL_FIELDS = frozenset({"tsne_update_slices"})


@dataclass(frozen=True)
class AccelConfig:
    """Parameters of the AdapSNE accelerator and of its golden model.

    Parameters
    ----------
    name : str
        Preset name (informational).
    lanes : int
        K, number of PE lanes; in the search phase each lane evaluates one candidate per pass.
    n_max : int
        Largest class size (points per class) the on-chip memories hold.
    d_max : int
        Largest feature dimension.
    feature_bits : int
        Width of one unsigned feature; features must lie in [0, 2**feature_bits - 1].
    w_frac : int
        Fraction bits of the exp2 result w = 2^-t (format UQ1.w_frac) and of the Z accumulator.
    t_frac : int
        Fraction bits of the exponent argument t = b * (D - m).
    u_frac : int
        Fraction bits of the search variable u = log2(b) (signed).
    h_frac : int
        Fraction bits of entropies H, the target log2(Perp), T and errors.
    perp_frac : int
        Fraction bits of the perplexity register (unsigned, 16 + perp_frac bits).
    exp_table_bits, log_table_bits, recip_table_bits : int
        Index bits of the exp2 (2^-f), log2(1+m) and 1/(1+m) tables.
    interpolate : bool
        Linear interpolation between table entries in all three function units.
    point_parallel : bool
        Build the point-parallel dataflow for bisection (selected per run by the DATAFLOW
        register): each lane searches its own point over its own distance row, so each row bank
        holds ``n_max`` distances instead of ``2 ceil(n_max / lanes)`` (``lanes x n_max x
        dist_bits`` bits in all; docs/hardware.md, "Point-parallel bisection").
    phases : bool
        Build the phase sequencer into the core (`hw.phases`): with the MODE register at 1 a run is
        search, then joint affinities (`hw.affinity`), then t-SNE (`hw.tsne`, ``tsne_iters``
        iterations, the first ``tsne_exaggeration_iters`` exaggerated) and the final embedding on
        the ``emb`` stream (docs/hardware.md, "Phase sequencer").  False: search only (MODE = 1
        is refused with error code MODE).
    tsne_update_slices : int
        S, 1 .. 16: the t-SNE update (gradient, gains, velocity, position) runs on a shared unit
        of S slices outside the lanes (`hw.tsne_update`; each slice a pipelined unit with the
        update op ``tupd`` on `timing.TUPD_MULTIPLIERS` wide multipliers per coordinate, a point
        every `timing.TUPD_INTERVAL` = 2 cycles), S points in consecutive cycles every S
        `timing.tsne_update_interval` (S) cycles (`timing.tsne_update_offset`), overlapped with the
        next iteration's pair stream (`timing.tsne_overlap_delay`).  1 (every preset, since
        session 50) keeps pace with the stream (a point every 2 cycles, the stream reads one
        every II = 2), so that the overlap costs only block 0's ramp; 2 takes a point every cycle
        for twice the area (docs/hardware.md, "The update unit").  Our choice, not the papers'.
        Without ``phases`` it changes nothing.
    tsne_symmetric : bool
        The t-SNE engine's dataflow: False, every ordered pair (i, j) on lane i (dataflow (a));
        True, each unordered pair once (dataflow (a'): block b streams only j > i, each pair's
        j-side force terms are derived exactly from the i-side ones and summed over the lanes into
        a J memory; about half the pair work, docs/hardware.md "t-SNE engine").  Both give the
        same bits (`tsne_fixed.forces`); only the cycle schedule differs.  Our choice, not the
        papers'.  Without ``phases`` it changes nothing.
    max_passes : int
        Iteration cap of the sigma search (passes over the distance row, all policies).
    tolerance_log2 : int
        Stop when |H - log2 Perp| <= 2**tolerance_log2 bits; default -exp_table_bits (the brief's
        "tolerance matched to the arithmetic").  None means derive.
    fwa_fireworks : int
        FWA population size n (fireworks kept between passes).
    fwa_gauss_sparks : int
        Lanes per pass given to Gaussian-mutation sparks around the best firework.
    fwa_amp_init_shift : int
        Initial core amplitude A0 = bracket width >> fwa_amp_init_shift (in u LSBs).
    fwa_amp_rank_shift : int
        Amplitude of the firework of rank r is A0 << (r * fwa_amp_rank_shift).
    fwa_amp_adapt_shift : int
        Dynamic amplitude: A0 += A0 >> s when the best improved in a pass, else A0 -= A0 >> s.
    seed : int
        Seed for every random choice (FWA PRNG, t-SNE initialisation).
    perplexity : float
        Target perplexity of the NMS baseline and of fixed-perplexity runs.
    perplexity_candidates : tuple of float
        Candidate perplexities of the entropy-guided outer search (mode "fixed").
    perplexity_search : str
        "fixed" (evaluate every candidate) or "fwa" (small FWA over log perplexity).
    perplexity_fwa_iters : int
        Outer FWA iterations when perplexity_search == "fwa".
    tsne_iters, tsne_exaggeration, tsne_exaggeration_iters, tsne_learning_rate,
    tsne_momentum_early, tsne_momentum_late, tsne_min_gain : t-SNE schedule.
    p_frac : int
        Fraction bits of the conditional affinities p_{j|i} (UQ0.p_frac, saturating at
        1 - 2^-p_frac) and of the stored pair sums S_ij = p_{j|i} + p_{i|j} (UQ1.p_frac); the joint
        affinity is S_ij / 2N (golden_model.affinity_fixed).
    y_frac, y_int_bits : int
        Embedding coordinates and velocities: signed Q(y_int_bits).(y_frac), saturating.
    pair_headroom : int
        The t-SNE pair datapath sees y in a 17-bit block-floating-point *pair format*: iteration t
        uses ``y >> s_t`` (saturated to 17 bits signed), ``s_t`` the smallest shift that leaves
        ``pair_headroom`` spare bits on the embedding of iteration ``t - 1`` (golden_model.tsne_fixed
        ``pair_shift``), so every pair product is one 18 x 18 multiplier.  A phases core also needs
        ``w_frac <= 16`` and ``p_frac <= 16`` (docs/fixed_point.md, "The pair format").
    q_frac : int
        Fraction bits of the sum Z of the Student-t kernel 1/(1 + |y_i - y_j|^2) (each term added in
        UQ1.q_frac; the force terms use the kernel as a W-bit mantissa and an exponent).
    grad_frac : int
        Fraction bits of the force accumulators and of the gradient (signed, saturating at
        +-2^y_int_bits).
    gain_frac, gain_int_bits : int
        Gains: UQ(gain_int_bits).(gain_frac), saturating.
    coef_frac : int
        Fraction bits of the schedule coefficients held in registers: learning rate, exaggeration,
        momenta (each rounded to nearest once by the host).
    tsne_init_frac : int
        Initial coordinates are y = g / 2^tsne_init_frac with g the Irwin-Hall integer of
        search_fixed.gauss_approx (standard deviation 147.8 / 2^tsne_init_frac); <= y_frac.
    grid_g : int
        Largest side G of the G x G occupancy-entropy grid (the histogram has at most G^2 cells).
    entropy_cell_points : int
        Points per cell the occupancy-entropy grid is sized for: a class of N points is
        histogrammed on the smallest G x G grid with ``G^2 * entropy_cell_points >= N`` (at least
        2, at most ``grid_g``); see ``reference.entropy_grid_side``.  Our rule, not the papers'.
    grid_frac : int
        Fixed-point grid sampler (golden_model.grid_fixed): fraction bits of a point's position
        inside its cell, i.e. the divider delivers ``bitlen(g) + grid_frac`` quotient bits of
        ``(y - min) g / span``.  The numerator needs ``y_int_bits + y_frac + 1 + bitlen(GRID_G_LIMIT)
        + grid_frac <= 62`` bits.
    """

    name: str = "custom"
    # --- array and memories
    lanes: int = 8
    n_max: int = 64
    d_max: int = 64
    feature_bits: int = 8
    # --- fixed-point formats and tables
    w_frac: int = 16
    t_frac: int = 12
    u_frac: int = 12
    h_frac: int = 12
    perp_frac: int = 8
    exp_table_bits: int = 8
    log_table_bits: int = 8
    recip_table_bits: int = 8
    interpolate: bool = True
    point_parallel: bool = True
    phases: bool = False
    tsne_update_slices: int = 1
    tsne_symmetric: bool = True
    # --- sigma search
    max_passes: int = 40
    tolerance_log2: int | None = None
    fwa_fireworks: int = 3
    fwa_gauss_sparks: int = 1
    fwa_amp_init_shift: int = 3
    fwa_amp_rank_shift: int = 1
    fwa_amp_adapt_shift: int = 2
    seed: int = 1
    # --- algorithm above the search (float golden model for now)
    perplexity: float = 30.0
    perplexity_candidates: tuple = (5.0, 10.0, 20.0, 30.0, 50.0)
    perplexity_search: str = "fixed"
    perplexity_fwa_iters: int = 3
    tsne_iters: int = 750
    tsne_exaggeration: float = 12.0
    tsne_exaggeration_iters: int = 250
    tsne_learning_rate: float = 200.0
    tsne_momentum_early: float = 0.5
    tsne_momentum_late: float = 0.8
    tsne_min_gain: float = 0.01
    grid_g: int = 16
    entropy_cell_points: int = 4
    grid_frac: int = 16
    # --- fixed-point affinities and t-SNE (golden_model.affinity_fixed, tsne_fixed)
    p_frac: int = 16
    y_frac: int = 20
    y_int_bits: int = 10
    pair_headroom: int = 2
    q_frac: int = 24
    grad_frac: int = 28
    gain_frac: int = 12
    gain_int_bits: int = 8
    coef_frac: int = 16
    tsne_init_frac: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name must be a non-empty string, got {self.name!r}")
        for nm, (lo, hi) in SIZE_LIMITS.items():
            _check_int(nm, getattr(self, nm), lo, hi)
        _check_int("w_frac", self.w_frac, 8, 24)
        _check_int("t_frac", self.t_frac, 4, 20)
        _check_int("u_frac", self.u_frac, 4, 20)
        _check_int("h_frac", self.h_frac, 6, 20)
        _check_int("perp_frac", self.perp_frac, 0, 12)
        _check_int("exp_table_bits", self.exp_table_bits, 2, 12)
        _check_int("log_table_bits", self.log_table_bits, 2, 12)
        _check_int("recip_table_bits", self.recip_table_bits, 2, 12)
        if self.exp_table_bits > self.t_frac:
            raise ConfigError(
                f"exp_table_bits={self.exp_table_bits} must not exceed t_frac={self.t_frac} "
                f"(the table is indexed by the top fraction bits of t): allowed [2, {self.t_frac}]")
        if self.exp_table_bits > self.u_frac:
            raise ConfigError(
                f"exp_table_bits={self.exp_table_bits} must not exceed u_frac={self.u_frac} "
                f"(2^-g for the candidate's fraction g uses the same table): allowed [2, {self.u_frac}]")
        for nm in ("log_table_bits", "recip_table_bits"):
            if getattr(self, nm) > self.w_frac:
                raise ConfigError(f"{nm}={getattr(self, nm)} must not exceed w_frac={self.w_frac} "
                                  f"(indexed by the top bits of a w_frac-bit mantissa): allowed [2, {self.w_frac}]")
        for nm in ("interpolate", "point_parallel", "phases", "tsne_symmetric"):
            if not isinstance(getattr(self, nm), bool):
                raise ConfigError(f"{nm} must be a bool, got {getattr(self, nm)!r}")
        from . import timing
        if self.phases and self.lanes < 2:
            # the t-SNE engine (its scan chain, ring steps, adder trees) is built and verified for
            # two or more lanes only
            raise ConfigError(f"phases=True needs lanes >= 2 (the t-SNE engine is built for K >= 2), got lanes={self.lanes}")
        if self.phases and self.tsne_symmetric and not all(
                timing.tsne_stream_ok(n, self.lanes) for n in range(2, min(self.n_max, 3 * self.lanes) + 1)):
            # the ring steps' visitor flush and the hand-over need a few broadcast slots per block
            raise ConfigError(f"tsne_symmetric=True: the t-SNE stream of lanes={self.lanes} does not fit short "
                              f"classes; use tsne_symmetric=False")
        _check_int("tsne_update_slices", self.tsne_update_slices, 1, 16)
        _check_int("max_passes", self.max_passes, 1, 255)
        if self.tolerance_log2 is not None:
            _check_int("tolerance_log2", self.tolerance_log2, -self.h_frac, 0)
        _check_int("fwa_fireworks", self.fwa_fireworks, 1, 16)
        _check_int("fwa_gauss_sparks", self.fwa_gauss_sparks, 0, 16)
        if self.fwa_fireworks + self.fwa_gauss_sparks > self.lanes:
            raise ConfigError(
                f"fwa_fireworks + fwa_gauss_sparks = {self.fwa_fireworks + self.fwa_gauss_sparks} must be "
                f"<= lanes={self.lanes} (each firework needs at least one spark lane)")
        _check_int("fwa_amp_init_shift", self.fwa_amp_init_shift, 0, 16)
        _check_int("fwa_amp_rank_shift", self.fwa_amp_rank_shift, 0, 4)
        _check_int("fwa_amp_adapt_shift", self.fwa_amp_adapt_shift, 1, 8)
        _check_int("seed", self.seed, 1, 2**32 - 1)
        _check_float("perplexity", self.perplexity, 1.0, float(self.perp_max), lo_open=True)
        if not isinstance(self.perplexity_candidates, tuple) or not self.perplexity_candidates:
            raise ConfigError("perplexity_candidates must be a non-empty tuple of numbers in (1, perp_max]")
        for p in self.perplexity_candidates:
            _check_float("perplexity_candidates[*]", p, 1.0, float(self.perp_max), lo_open=True)
        if self.perplexity_search not in PERPLEXITY_SEARCHES:
            raise ConfigError(f"perplexity_search must be one of {PERPLEXITY_SEARCHES}, got {self.perplexity_search!r}")
        _check_int("perplexity_fwa_iters", self.perplexity_fwa_iters, 1, 20)
        _check_int("tsne_iters", self.tsne_iters, 1, 100000)
        _check_float("tsne_exaggeration", self.tsne_exaggeration, 1.0, 100.0)
        _check_int("tsne_exaggeration_iters", self.tsne_exaggeration_iters, 0, self.tsne_iters)
        _check_float("tsne_learning_rate", self.tsne_learning_rate, 0.0, 1e5, lo_open=True)
        _check_float("tsne_momentum_early", self.tsne_momentum_early, 0.0, 0.99)
        _check_float("tsne_momentum_late", self.tsne_momentum_late, 0.0, 0.99)
        _check_float("tsne_min_gain", self.tsne_min_gain, 0.0, 1.0)
        _check_int("grid_g", self.grid_g, 2, 256)
        _check_int("entropy_cell_points", self.entropy_cell_points, 1, 256)
        self._check_tsne_fixed()

    def _check_tsne_fixed(self) -> None:
        """Formats of the fixed-point affinities and t-SNE.  The cross-field limits keep every
        pairwise product of golden_model.tsne_fixed inside 62 bits (the golden model's int64) and
        the kernel's normaliser input exact in a float64 mantissa (53 bits)."""
        _check_int("p_frac", self.p_frac, 8, min(24, 2 * self.w_frac))
        _check_int("y_frac", self.y_frac, max(8, (self.w_frac + 1) // 2), 24)
        _check_int("y_int_bits", self.y_int_bits, 2, min(16, 30 - self.y_frac))
        _check_int("q_frac", self.q_frac, self.w_frac, 30)
        _check_int("grad_frac", self.grad_frac, 8, self.w_frac + self.y_frac)
        _check_int("gain_frac", self.gain_frac, 4, 16)
        _check_int("gain_int_bits", self.gain_int_bits, 1, 16)
        # <= 17: the momentum is one unsigned TM chunk and the learning rate two (hw.lane_tupd)
        _check_int("coef_frac", self.coef_frac, 4, 17)
        _check_int("tsne_init_frac", self.tsne_init_frac, 0, self.y_frac)
        _check_int("pair_headroom", self.pair_headroom, 0, 8)
        if self.phases:
            # the lane's four pair multipliers are 18 x 18: S, r, sr, r2 unsigned 17 bits at most
            for nm in ("w_frac", "p_frac"):
                if getattr(self, nm) > 16:
                    raise ConfigError(f"{nm}={getattr(self, nm)} with phases=True: every t-SNE pair operand is at "
                                      f"most 17 unsigned bits (one 18 x 18 multiplier): allowed {nm} [8, 16]")
        # the grid divider's numerator (y - min) g 2^grid_frac, g <= GRID_G_LIMIT, inside int64
        _check_int("grid_frac", self.grid_frac, 1,
                   max(1, 62 - (self.y_int_bits + self.y_frac + 1) - bit_length(GRID_G_LIMIT)))
        # |d^2| < 2^(2 (y_int_bits + 1)) with w_frac fraction bits, plus the 1 of 1 + d^2
        hi = (51 - self.w_frac) // 2 - 1
        if self.y_int_bits > hi:
            raise ConfigError(f"y_int_bits={self.y_int_bits} with w_frac={self.w_frac}: 1 + |y_i - y_j|^2 "
                              f"needs 2 (y_int_bits + 1) + w_frac + 1 <= 52 bits: allowed [2, {hi}]")
        acc = self.y_int_bits + 2 + self.grad_frac + self.count_bits
        if acc > 62:
            raise ConfigError(f"grad_frac={self.grad_frac}: the force accumulators need y_int_bits + 2 + grad_frac + "
                              f"bitlen(n_max) = {acc} bits, at most 62: allowed [8, "
                              f"{60 - self.y_int_bits - self.count_bits}] with y_int_bits={self.y_int_bits}, "
                              f"n_max={self.n_max}")
        # the lanes' update op (timing.TUPD_MULS, hw.lane_tupd): a gain is one 31-bit TM chunk, the
        # product gain x gradient two (signed, y_int_bits + grad_frac + 1 + gain bits <= 63)
        gain = self.gain_int_bits + self.gain_frac
        if gain > 31:
            raise ConfigError(f"gain_int_bits={self.gain_int_bits} with gain_frac={self.gain_frac}: the update op "
                              f"takes a gain of at most 31 bits: allowed gain_int_bits [1, {31 - self.gain_frac}]")
        if self.y_int_bits + self.grad_frac + gain > 62:
            raise ConfigError(f"gain_int_bits={self.gain_int_bits}: the update op's product gain x gradient needs "
                              f"y_int_bits + grad_frac + gain_int_bits + gain_frac + 1 = "
                              f"{self.y_int_bits + self.grad_frac + gain + 1} bits, at most 63: allowed gain_int_bits "
                              f"[1, {62 - self.y_int_bits - self.grad_frac - self.gain_frac}]")

    # ------------------------------------------------------------------ derived values
    @property
    def feature_max(self) -> int:
        return (1 << self.feature_bits) - 1

    @property
    def dist_max(self) -> int:
        """Largest possible squared distance D_ij."""
        return self.d_max * self.feature_max ** 2

    @property
    def dist_bits(self) -> int:
        return bit_length(self.dist_max)

    @property
    def index_bits(self) -> int:
        """Bits of a point index 0 .. n_max-1."""
        return max(1, bit_length(self.n_max - 1))

    @property
    def count_bits(self) -> int:
        """Bits of a count 0 .. n_max."""
        return bit_length(self.n_max)

    @property
    def dim_bits(self) -> int:
        return bit_length(self.d_max)

    @property
    def lane_bits(self) -> int:
        return max(1, bit_length(self.lanes - 1))

    @property
    def perp_bits(self) -> int:
        """Width of the perplexity register (unsigned, perp_frac fraction bits)."""
        return self.count_bits + self.perp_frac

    @property
    def perp_max(self) -> float:
        return float(self.n_max)

    @property
    def t_int_bits(self) -> int:
        """Integer bits of the clamped exponent argument: t < w_frac + 1 is all that matters."""
        return bit_length(self.w_frac + 1)

    @property
    def z_bits(self) -> int:
        """Z accumulator: up to n_max terms of UQ1.w_frac."""
        return bit_length(self.n_max) + 1 + self.w_frac

    @property
    def tolerance_lsb(self) -> int:
        """Tolerance in H LSBs (2**-h_frac bits)."""
        tl = -self.exp_table_bits if self.tolerance_log2 is None else self.tolerance_log2
        return 1 << max(0, self.h_frac + tl)

    @property
    def u_hi(self) -> int:
        """Upper end of the search range of u = log2(b), in u LSBs: b*1 >= 2*(w_frac+1) kills every
        non-minimum term, so larger u cannot change H."""
        return bit_length(2 * (self.w_frac + 1)) << self.u_frac

    @property
    def fwa_spark_lanes(self) -> tuple:
        """Sparks per firework rank (best first): proportional to (n - r), summing to
        lanes - fwa_gauss_sparks; every rank gets at least one."""
        n = self.fwa_fireworks
        total = self.lanes - self.fwa_gauss_sparks
        weights = [n - r for r in range(n)]
        wsum = sum(weights)
        alloc = [max(1, (total * w) // wsum) for w in weights]
        r = 0
        while sum(alloc) < total:  # hand the remainder to the best ranks first
            alloc[r % n] += 1
            r += 1
        while sum(alloc) > total:  # only possible through the max(1, .) floor
            idx = max(range(n), key=lambda i: (alloc[i], -i))
            alloc[idx] -= 1
        return tuple(alloc)

    # ------------------------------------------------------------------ helpers
    def with_overrides(self, **overrides: Any) -> "AccelConfig":
        names = {f.name for f in dataclasses.fields(self)}
        for k in overrides:
            if k not in names:
                raise ConfigError(f"unknown parameter {k!r}; known parameters: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self, derived: bool = True) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["perplexity_candidates"] = list(self.perplexity_candidates)
        if derived:
            d["derived"] = {
                "feature_max": self.feature_max,
                "dist_max": self.dist_max,
                "dist_bits": self.dist_bits,
                "index_bits": self.index_bits,
                "count_bits": self.count_bits,
                "dim_bits": self.dim_bits,
                "perp_bits": self.perp_bits,
                "t_int_bits": self.t_int_bits,
                "z_bits": self.z_bits,
                "tolerance_lsb": self.tolerance_lsb,
                "u_hi": self.u_hi,
                "fwa_spark_lanes": list(self.fwa_spark_lanes),
            }
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> "AccelConfig":
        d = {k: v for k, v in d.items() if k != "derived"}
        if "perplexity_candidates" in d:
            d["perplexity_candidates"] = tuple(d["perplexity_candidates"])
        return cls(**d)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_override(text: str) -> tuple:
    """``key=value`` from a command line (``--set``) -> ``(key, typed value)``, typed by the field's
    annotation.  Text that does not convert is passed through unchanged, so that AccelConfig's own
    validation reports it, naming the parameter and its allowed range."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    key, raw = (s.strip() for s in text.split("=", 1))
    types = {f.name: str(f.type).replace(" ", "") for f in dataclasses.fields(AccelConfig)}
    if key not in types:
        raise ConfigError(f"unknown parameter {key!r}; known parameters: {', '.join(sorted(types))}")
    t = types[key]
    try:
        if t == "bool":
            low = raw.lower()
            return key, True if low in _TRUE else False if low in _FALSE else raw
        if t.startswith("int"):
            if "None" in t and raw.lower() in ("none", "null", ""):
                return key, None
            return key, int(raw, 0)
        if t == "float":
            return key, float(raw)
        if t == "tuple":
            return key, tuple(float(v) for v in raw.strip("()[] ").replace(";", ",").split(",") if v.strip())
    except ValueError:
        pass
    return key, raw


def parse_overrides(items) -> dict:
    """Several ``key=value`` items -> dict (later items win)."""
    return dict(parse_override(s) for s in items)


PRESETS: dict = {
    # Fast tests: a handful of points, 4 lanes.
    "tiny": AccelConfig(name="tiny", lanes=4, n_max=32, d_max=16, feature_bits=8,
                        w_frac=14, t_frac=10, u_frac=10, h_frac=10,
                        exp_table_bits=6, log_table_bits=6, recip_table_bits=6,
                        max_passes=24, fwa_fireworks=2, fwa_gauss_sparks=1,
                        perplexity=5.0, perplexity_candidates=(3.0, 5.0, 8.0)),
    # A small general-purpose core (fits the iCE40 UP5K class of devices in spirit).
    "small": AccelConfig(name="small", lanes=8, n_max=64, d_max=32, feature_bits=8),
    # Sized for scikit-learn's digits: classes of <= 183 points, 64 features in 0..16.
    "digits": AccelConfig(name="digits", lanes=16, n_max=256, d_max=64, feature_bits=5),
    # A larger core for uint8 image features (e.g. downscaled images).
    "large": AccelConfig(name="large", lanes=64, n_max=1024, d_max=256, feature_bits=8),
}

#: the preset every command uses when none is given (golden_model.cli, hw.generate, synth.report).
DEFAULT_PRESET = "small"


def get_preset(name: str) -> AccelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; available presets: {', '.join(PRESETS)}") from None
