"""Arithmetic units of a PE lane: the table-based function unit and the leading-one normaliser.

Bit-exact with `golden_model.fixed` (the tables are built by the same functions,
`fixed.exp2neg_table`, `fixed.log2_table`, `fixed.recip_table`).

One `FunctionUnit` per lane holds the three tables in one ROM and is time-multiplexed:

============  ==================  ==========  ===========================================
op            fraction bits in    table       used for
============  ==================  ==========  ===========================================
``EXP_T``     ``t_frac``          2^-f        every kernel evaluation (stream)
``EXP_U``     ``u_frac``          2^-f        candidate multiplier bm = 2^-g (pass set-up)
``LOG``       ``w_frac``          log2(1+m)   log2 Z (row end), log2 PERP (run start)
``RECIP``     ``w_frac``          1/(1+m)     T/Z (row end)
============  ==================  ==========  ===========================================

ROM word ``k`` of a table holds ``y_k`` and, with interpolation, the slope ``y_{k+1} - y_k``, so a
single read gives both end points: ``y = y_k + floor(slope * rem / 2^r)`` with ``r`` = fraction
bits - index bits of the op (the floor of a possibly negative product is an arithmetic shift, as
in `fixed.table_interp`).
"""

from __future__ import annotations

import enum

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model import fixed as fx
from golden_model import timing
from golden_model.config import AccelConfig, bit_length

__all__ = ["FuOp", "FunctionUnit", "Exp2Unit", "Log2Unit", "fu_tables", "normalise", "FU_LATENCY"]

#: cycles from an operand to its table value (the function unit's stages in the op table)
FU_LATENCY = len(timing.FU)


class FuOp(enum.IntEnum):
    EXP_T = 0
    EXP_U = 1
    LOG = 2
    RECIP = 3


def fu_tables(cfg: AccelConfig) -> dict:
    """Per op: (table tuple, index bits, fraction bits of the input, ROM base address)."""
    E, L, R = cfg.exp_table_bits, cfg.log_table_bits, cfg.recip_table_bits
    exp_tab = fx.exp2neg_table(E, cfg.w_frac)
    log_tab = fx.log2_table(L, cfg.h_frac)
    rec_tab = fx.recip_table(R, cfg.w_frac)
    return {
        FuOp.EXP_T: (exp_tab, E, cfg.t_frac, 0),
        FuOp.EXP_U: (exp_tab, E, cfg.u_frac, 0),
        FuOp.LOG: (log_tab, L, cfg.w_frac, 1 << E),
        FuOp.RECIP: (rec_tab, R, cfg.w_frac, (1 << E) + (1 << L)),
    }


class FunctionUnit(wiring.Component):
    """Table function unit (exp2 / log2 / reciprocal), one ROM shared by time-multiplexing.

    Timing: the operands are sampled in cycle ``c``; ``o_y`` (registered) and ``o_valid`` are
    visible in cycle ``c + FU_LATENCY`` (stages `golden_model.timing.FU`: ROM read, ROM word
    register, interpolation product, sum).

    Parameters
    ----------
    cfg : AccelConfig
    addressed : bool
        The caller presents the ROM address itself (``i_addr``, ``i_rem``; `operand` builds them)
        instead of the fraction ``i_frac``.
    ops : iterable of FuOp or None
        The ops this unit serves (None: all); the ROM holds only their tables.

    Attributes
    ----------
    i_valid : In(1)
        An operand is presented this cycle.
    i_op : In(2)
        `FuOp` selecting table and input format.
    i_frac : In(frac_bits)
        Fraction ``f`` (right-aligned, ``t_frac``/``u_frac``/``w_frac`` bits depending on the op),
        ``frac_bits = max(t_frac, u_frac, w_frac)``.  Without ``addressed`` only.
    i_addr : In(range(rom_depth)), i_rem : In(rem_bits)
        With ``addressed``: the ROM address and interpolation remainder, ``address(op, f)`` and
        ``remainder(op, f)`` (see `operand`).
    o_valid : Out(1)
        ``i_valid`` delayed by one cycle.
    o_y : Out(y_bits)
        Table value in the op's output format: UQ1.w_frac (EXP, RECIP) or Q.h_frac (LOG).
    """

    def __init__(self, cfg: AccelConfig, addressed: bool = False, ops=None):
        self.cfg = cfg
        self.addressed = addressed
        full = fu_tables(cfg)
        self.ops = tuple(FuOp) if ops is None else tuple(sorted(set(ops)))
        if not self.ops or not set(self.ops) <= set(FuOp):
            raise ValueError(f"ops must be a non-empty subset of {[o.name for o in FuOp]}, got {ops!r}")
        self.frac_bits = max(full[op][2] for op in self.ops)
        # the ROM holds each table the unit needs once (EXP_T and EXP_U share the exp table), in
        # the order exp, log, recip, each at the next free address
        self.tables = {}
        vals = []
        slopes = []
        base = {}
        for op in self.ops:
            tab, ib, fb, _ = full[op]
            key = "exp" if op in (FuOp.EXP_T, FuOp.EXP_U) else op.name
            if key not in base:
                base[key] = len(vals)
                vals += list(tab[: 1 << ib])
                slopes += [tab[k + 1] - tab[k] for k in range(1 << ib)]
            self.tables[op] = (tab, ib, fb, base[key])
        self.y_bits = bit_length(max(vals))
        self.slope_bits = bit_length(max(abs(s) for s in slopes)) + 1
        self.rem_bits = max(max(fb - ib for (_, ib, fb, _) in self.tables.values()), 1)
        self._words = []
        for v, s in zip(vals, slopes):
            w = v
            if cfg.interpolate:
                w |= (s & ((1 << self.slope_bits) - 1)) << self.y_bits
            self._words.append(w)
        self.word_bits = self.y_bits + (self.slope_bits if cfg.interpolate else 0)
        operand = ({"i_addr": In(range(len(self._words))), "i_rem": In(self.rem_bits)} if addressed
                   else {"i_frac": In(self.frac_bits)})
        super().__init__({
            "i_valid": In(1),
            "i_op": In(2),
            **operand,
            "o_valid": Out(1),
            "o_y": Out(self.y_bits),
        })

    @property
    def rom_depth(self) -> int:
        return len(self._words)

    def address(self, op, frac):
        """ROM address of fraction `frac` for `op` (a constant op: no comparison on ``i_op``)."""
        _, ib, fb, base = self.tables[op]
        r = fb - ib
        if base % (1 << ib) == 0:
            # a table aligned to its size: the address is a concatenation, no adder
            return Cat(frac[r:fb], C(base >> ib, bit_length(len(self._words))))
        return base + (frac[:fb] >> r)

    def remainder(self, op, frac):
        """Interpolation remainder of `frac` for `op` (0 when the table is indexed by every bit)."""
        _, ib, fb, _ = self.tables[op]
        return frac[:fb - ib] if fb > ib else C(0, 1)

    def operand(self, op, frac) -> list:
        """Assignments presenting `frac` for the constant `op`.  With ``addressed`` the caller
        computes the ROM address (``i_addr``, ``i_rem``), so a caller that multiplexes several
        sources selects addresses and the ROM's address input sees no op comparison behind the
        multiplexer (the lanes' time-multiplexed FU)."""
        if self.addressed:
            return [self.i_valid.eq(1), self.i_op.eq(op), self.i_addr.eq(self.address(op, frac)),
                    self.i_rem.eq(self.remainder(op, frac))]
        return [self.i_valid.eq(1), self.i_op.eq(op), self.i_frac.eq(frac)]

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        rom = Memory(shape=unsigned(self.word_bits), depth=len(self._words), init=self._words)
        m.submodules.rom = rom
        rp = rom.read_port(domain="sync")

        addr = Signal(range(len(self._words)))
        rem = Signal(self.rem_bits)
        if self.addressed:
            m.d.comb += [addr.eq(self.i_addr), rem.eq(self.i_rem)]
        else:
            for op in self.tables:
                with m.If(self.i_op == op):
                    m.d.comb += [addr.eq(self.address(op, self.i_frac)), rem.eq(self.remainder(op, self.i_frac))]
        m.d.comb += rp.addr.eq(addr)

        # stage fu_rom: address to the (registered) ROM; op and remainder travel alongside
        op_d = Signal(2)
        rem_d = Signal(self.rem_bits)
        v = [Signal(name=f"fu_v{s}") for s in range(FU_LATENCY)]
        m.d.sync += [op_d.eq(self.i_op), rem_d.eq(rem), v[0].eq(self.i_valid)]
        m.d.sync += [v[s].eq(v[s - 1]) for s in range(1, FU_LATENCY)]
        m.d.comb += self.o_valid.eq(v[-1])
        # stage fu_reg: ROM word register (keeps the block RAM's clock-to-out off the next path)
        word = Signal(self.word_bits)
        op_2 = Signal(2)
        rem_2 = Signal(self.rem_bits)
        m.d.sync += [word.eq(rp.data), op_2.eq(op_d), rem_2.eq(rem_d)]
        # stage fu_mul: interpolation product
        y0 = Signal(self.y_bits)
        op_3 = Signal(2)
        prod = Signal(signed(self.slope_bits + self.rem_bits + 1))
        m.d.sync += [y0.eq(word[: self.y_bits]), op_3.eq(op_2)]
        if cfg.interpolate:
            slope = word[self.y_bits: self.y_bits + self.slope_bits].as_signed()
            m.d.sync += prod.eq(slope * rem_2)
        # stage fu_add: y = y_k + floor(slope rem / 2^r), registered output
        for op, (_, ib, fb, _) in self.tables.items():
            r = fb - ib
            with m.If(op_3 == op):
                if cfg.interpolate and r > 0:
                    m.d.sync += self.o_y.eq(y0 + (prod >> r))
                else:
                    m.d.sync += self.o_y.eq(y0)
        return m


def leading_one(x):
    """``(any, p)``: whether the unsigned value ``x`` has a one, and the position of its leading one
    (0 for ``x = 0``), as a balanced tree of 2:1 multiplexers (log-depth; an if-chain over the bits
    is a ``len(x)``-deep multiplexer chain)."""
    n = len(x)
    if n == 1:
        return x[0], C(0, 1)
    k = bit_length(n - 1) - 1
    h = 1 << k                               # the largest power of two below n
    a_hi, p_hi = leading_one(x[h:])
    a_lo, p_lo = leading_one(x[:h])
    if k == 0:
        return a_hi | a_lo, a_hi
    return a_hi | a_lo, Cat(Mux(a_hi, p_hi, p_lo)[:k], a_hi)


def normalise(m: Module, x, nb: int, w: int, name: str = "norm"):
    """Leading-one detection of the ``nb``-bit unsigned value ``x`` (combinational).

    Returns ``(p, mn)``: ``p`` the position of the leading one and ``mn = floor((x - 2^p) 2^w / 2^p)``
    (``fixed.normalise``).  ``x = 0`` gives ``p = 0, mn = 0`` (never used)."""
    p = Signal(range(max(nb, 2)), name=f"{name}_p")
    for k in range(nb):
        with m.If(x[k]):
            m.d.comb += p.eq(k)
    lz = Signal(range(max(nb, 2)), name=f"{name}_lz")
    m.d.comb += lz.eq(nb - 1 - p)
    xl = Signal(nb, name=f"{name}_xl")
    m.d.comb += xl.eq((x << lz)[:nb])
    mn = Signal(w, name=f"{name}_mn")
    # the nb-1 bits below the leading one, left-aligned; keep the top w of them (floor)
    if nb - 1 >= w:
        m.d.comb += mn.eq(xl[nb - 1 - w: nb - 1])
    elif nb > 1:
        m.d.comb += mn.eq(xl[: nb - 1] << (w - (nb - 1)))
    return p, mn


class Exp2Unit(wiring.Component):
    """Standalone 2^-t (``fixed.exp2neg``): a `FunctionUnit` in ``EXP_T`` mode plus the integer
    shift, as in the lane's stream pipeline.  Used by the unit tests and as a synthesis block.

    Timing: ``t`` sampled in cycle ``c``, ``w`` registered, visible in cycle ``c + FU_LATENCY + 1``.

    Attributes
    ----------
    i_valid : In(1)
    t : In(t_bits)
        t_q in UQ.t_frac, ``t_q <= (w_frac + 1) << t_frac`` (the clamp value gives 0).
    o_valid : Out(1)
    w : Out(w_frac + 1)
        UQ1.w_frac.
    """

    def __init__(self, cfg: AccelConfig):
        self.cfg = cfg
        self.t_bits = bit_length((cfg.w_frac + 1) << cfg.t_frac)
        super().__init__({
            "i_valid": In(1),
            "t": In(self.t_bits),
            "o_valid": Out(1),
            "w": Out(cfg.w_frac + 1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        T, W = cfg.t_frac, cfg.w_frac
        m.submodules.fu = fu = FunctionUnit(cfg)
        m.d.comb += [fu.i_valid.eq(self.i_valid), fu.i_op.eq(FuOp.EXP_T), fu.i_frac.eq(self.t[:T])]
        n_d = [Signal(range(1 << max(1, self.t_bits - T)), name=f"n_d{s}") for s in range(FU_LATENCY)]
        m.d.sync += n_d[0].eq(self.t >> T)
        m.d.sync += [n_d[s].eq(n_d[s - 1]) for s in range(1, FU_LATENCY)]
        m.d.sync += [self.o_valid.eq(fu.o_valid),
                     self.w.eq(Mux(n_d[-1] > W, 0, fu.o_y >> n_d[-1]))]
        return m


class Log2Unit(wiring.Component):
    """Standalone log2 of a fixed-point value (``fixed.log2_fixed``): normaliser + `FunctionUnit`
    in ``LOG`` mode, as the lane's row-end pipeline computes log2 Z and log2 PERP.

    Timing: ``x`` sampled in cycle ``c`` (normaliser registered), result visible in
    ``c + FU_LATENCY + 2``.

    Parameters
    ----------
    cfg : AccelConfig
    x_bits : int
        Width of the unsigned input.
    x_frac : int
        Its fraction bits.

    Attributes
    ----------
    i_valid : In(1)
    x : In(x_bits)
        Must be > 0.
    o_valid : Out(1)
    y : Out(signed(...))
        log2 x in Q.h_frac.
    """

    def __init__(self, cfg: AccelConfig, x_bits: int, x_frac: int):
        self.cfg = cfg
        self.x_bits = x_bits
        self.x_frac = x_frac
        yb = bit_length(max(x_bits, x_frac) + 1) + cfg.h_frac + 2
        super().__init__({
            "i_valid": In(1),
            "x": In(x_bits),
            "o_valid": Out(1),
            "y": Out(signed(yb)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        p, mn = normalise(m, self.x, self.x_bits, cfg.w_frac)
        p_d = Signal.like(p)
        mn_d = Signal.like(mn)
        v_d = Signal()
        m.d.sync += [p_d.eq(p), mn_d.eq(mn), v_d.eq(self.i_valid)]
        m.submodules.fu = fu = FunctionUnit(cfg)
        m.d.comb += [fu.i_valid.eq(v_d), fu.i_op.eq(FuOp.LOG), fu.i_frac.eq(mn_d)]
        p_dd = [Signal.like(p, name=f"p_dd{s}") for s in range(FU_LATENCY)]
        m.d.sync += p_dd[0].eq(p_d)
        m.d.sync += [p_dd[s].eq(p_dd[s - 1]) for s in range(1, FU_LATENCY)]
        m.d.sync += [self.o_valid.eq(fu.o_valid),
                     self.y.eq(((Cat(p_dd[-1], C(0, 1)).as_signed() - self.x_frac) << cfg.h_frac) + fu.o_y)]
        return m
