"""t-SNE pass controller on K lanes (dataflow (a') with ``tsne_symmetric``, the default; (a)
without; docs/hardware.md "t-SNE engine").

Bit-exact with `golden_model.tsne_fixed.forces` + `update` for one iteration per ``go``, in
exactly `golden_model.tsne_schedule.iteration_cycles` cycles (+1 for the ``go`` cycle):

``SCALE``   (a run's first state) N reads of y, the OR of their magnitudes, the pair shift
            (`tsne_fixed.pair_shift`; later iterations take it from the update's writes: the
            shift of iteration t is that of the embedding of iteration t - 1, set as the update
            of iteration t - 1 starts); every y the lanes see is the engine's pair-format register
            ``sat17(y >> s)``, a cycle after the read (`tsne_fixed.pair_y`);
``PRIME``   read-ahead + K cycles: block 0's ``y_i`` read and latched by lane ``l`` (``tnext``);
            ``tzsnap`` and ``tsnap`` clear the lanes' live sums (whatever an ABORT left there);
``STREAM``  per ``j``: ``y_j`` and the K S banks read, then ``tpair`` issued ``TSNE_READ`` cycles
            later to every lane whose ``i = bK + l`` is ``< N`` and ``!= j``; one ``j`` every II,
            block after block without a gap (``tsne_symmetric``: block b first takes K div 2 ring
            steps, lane l paired with the block's point (l + t) mod K from the visitor ring, then
            broadcasts from `timing.tsne_block_start` (j >= bK + K); the j-side terms go to the
            visitor sums and the J memories, `hw.tsne_jside`).  While ``j`` passes the next block's points, lane
            ``j - (b+1)K`` latches ``y_j`` (``tnext``); the block's last slot issues ``tzsnap`` and
            ``tsnap`` to every lane and the next cycle ``tload`` (the next block's ``y_i``); the
            last block issues its ``tzsnap`` with its last ring step (`timing.tsne_zq_lead`: its
            broadcast slots pair nothing).  Beside the STREAM, an adder tree sums the K lanes'
            snapped Zq partials into Zq (`timing.TSNE_ZQ_TAP` cycles after the ``tzsnap``,
            `timing.tsne_zq_levels` levels) and,
            `timing.latency` ("tsnap") cycles after it, K ``tscan`` shifts move the snapped A, R
            out at lane 0 (into the accumulator memories);
``FLUSH``   after the last block, until Zq is complete (and, for short classes, the hand-overs
            still running are ahead of the update's reads): `timing.tsne_flush_cycles`;
``RECIP``   ``trecip`` of Zq on lane 0 (``p``, ``recip(m)``), `timing.TSNE_RECIP` cycles: the update
            starts before the result is captured (`timing.TUPD_RZ_STAGE`); ``ca`` is ``ex rn >>
            coef_frac`` (``tmul`` on lane 0 in SCALE, once per run) during the exaggeration, then
            ``rn`` (recip(N), SCALE);
update      point ``i`` read and issued as ``tupd`` to update slice ``i mod S`` (`hw.tsne_update`,
            S = ``cfg.tsne_update_slices``; the S slices' points in S consecutive cycles, one burst
            every S `timing.tsne_update_interval` (S) cycles, `timing.tsne_update_offset`):
            gradient, gains, velocity, position (`tsne_fixed.update`); results written back
            through one multiplexer register.  The update runs beside the FSM: in
            ``OVERLAP`` (`timing.tsne_overlap_delay` cycles, then the next iteration's PRIME and
            STREAM run while it finishes), or in ``UPDATE`` until its last write (the last
            iteration, and an iteration whose embedding is traced);
``TRACE``   (``trace_en`` only, after ``UPDATE``) the iteration's Zq beat and, if selected, its
            embedding beats (an overlapped iteration sends its Zq beat as its update starts);
``INIT``    (on ``init``, idle) y = `tsne_fixed.init_embedding` from the ``seed`` register by lane
            0's PRNG, v = 0, gains = 1.0, in `tsne_schedule.init_cycles`.

Memories (own, loaded through the ``ld_*`` port while idle): S in K banks (row ``i`` in bank
``i mod K`` at ``(i div K) n_max + j``, `s_location`), Y, V, G (both coordinates per word), and
the accumulators A, R of the last pass (read back through ``rd_*``).

With ``ext=True`` (the whole core, `hw.phases`) the engine owns neither lanes nor S: it drives the
core's lanes through ports (``lt``: lane ``l``'s ops are ``lt.l<l>``, `lane_port`; ``tscan0``,
``tscan_push``, ``prng``, ``gauss``) that the core multiplexes with the other phases, and reads S
from the affinity phase's P memory (``s_addr``, ``s_data``: all K banks at one address, plus
``s_off[k]`` for bank k with ``tsne_symmetric``, data one cycle later).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Assert, C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model import timing
from golden_model import search_fixed as sf
from golden_model import tsne_fixed as tf
from golden_model.config import AccelConfig

from types import SimpleNamespace

from .delay import delay_line
from .readahead import ReadAhead
from .regnext import next_values
from .lane import Lane, search_ops_signature
from .lane_tsne import TsneWidths, tscan_signature, tsne_ops_signature
from .lane_tsne import pair_constants as tsne_pair_constants
from .lane_tupd import repulsion_shift_bias
from .tsne_jside import symmetric_jside
from .tsne_update import UpdateSlice

__all__ = ["TsneEngine", "pair_saturation_thresholds", "s_location", "trace_signature", "LD_S", "LD_Y", "LD_V", "LD_G"]

LD_S, LD_Y, LD_V, LD_G = 0, 1, 2, 3


def s_location(cfg: AccelConfig, i: int, j: int) -> tuple:
    """(bank, address) of ``S_ij``."""
    return i % cfg.lanes, (i // cfg.lanes) * cfg.n_max + j


def trace_signature(cfg: AccelConfig) -> wiring.Signature:
    """The debug stream (producer's view; valid/ready, a beat moves when both are high, ``valid``
    and the payload are registers and hold until then): ``kind`` `tsne_fixed.TRACE_ZQ` (``data`` =
    Zq of iteration ``iter``, UQ.q_frac) or `tsne_fixed.TRACE_Y` (``data`` = y of point ``index``
    after iteration ``iter``'s update, coordinate 0 | coordinate 1 << (1 + y_int_bits + y_frac)); on
    the core's ``emb`` stream also `tsne_fixed.TRACE_P` (the P dump of `hw.pdump`: ``data`` = S_ij,
    ``index`` = i, ``iter`` = j)."""
    tw = TsneWidths(cfg)
    return wiring.Signature({"valid": Out(1), "ready": In(1), "kind": Out(2), "iter": Out(17),
                             "index": Out(range(cfg.n_max)), "data": Out(max(tw.zq_total, 2 * tw.yb))})


def const_div(x, d: int, x_max: int):
    """``x div d`` for a constant ``d`` and ``0 <= x <= x_max``: a shift for a power of two, else
    ``(x M) >> k`` with ``M = ceil(2^k / d)`` (shifted adds), ``k`` the smallest exact over the range."""
    if d & (d - 1) == 0:
        return x >> (d.bit_length() - 1)
    k = x_max.bit_length()
    while True:
        mul = -(-(1 << k) // d)
        if all((v * mul) >> k == v // d for v in range(x_max + 1)):
            break
        k += 1
    return sum((x << b for b in range(mul.bit_length()) if mul >> b & 1), C(0, 1)) >> k


def _pack(lo, hi, w):
    return Cat(lo[:w], hi[:w])


def pair_saturation_thresholds(cfg: AccelConfig, shift: int) -> tuple:
    """``(hi, lo)``: the pair format ``sat17(y >> shift)`` (`tsne_fixed.pair_y`) saturates high
    iff ``y >= hi`` and low iff ``y < lo`` (``lim 2^shift``, ``-lim 2^shift``, clamped to y's range,
    where the test cannot hold)."""
    tw = TsneWidths(cfg)
    yb, lim = tw.yb, 1 << (tw.pyb - 1)
    return min(lim << shift, 1 << (yb - 1)), max(-(lim << shift), -(1 << (yb - 1)))


class TsneEngine(wiring.Component):
    """One t-SNE iteration (force pass, gradient, update) on K lanes.

    Parameters
    ----------
    cfg : AccelConfig
    checks : bool
        Lane resource-conflict assertions (simulation).
    ext : bool
        External lanes and S memory (module docstring); ``LD_S`` loads are then ignored.

    Attributes
    ----------
    n : In(count_bits)
        N, 2 .. n_max (stable while busy).
    ex, mom_early, mom_late, lr : In
        Exaggeration (UQ.coef_frac), momenta (UQ0.coef_frac), learning rate (UQ.coef_frac)
        registers (`tsne_fixed.Coefs`).
    iters, ex_iters : In(17)
        Iterations of a run (>= 1) and how many of them are exaggerated (momentum early); at
        iteration ``ex_iters`` (if > 0) velocity and gains restart from 0 and 1.0, as
        `tsne_fixed.tsne_fixed`.
    iter : Out(17)
        Index of the running iteration.
    go : In(1)
        Start a run of ``iters`` iterations from the loaded state (when idle).
    busy : Out(1), done : Out(1)
        Busy; ``done`` pulses once in the cycle after the last update write (after the last trace
        beat with ``trace_en``; after the last point's write for ``init``).
    init : In(1), seed : In(32)
        Start the PRNG initialisation (when idle) from the seed register (reset value cfg.seed).
    trace_en : In(1), trace_every_log2 : In(5), trace : Out(`trace_signature`)
        Debug stream on; the embedding is traced after every ``2^trace_every_log2``-th iteration
        and the last (`tsne_fixed.trace_selected`); Zq after every iteration.
    zq : Out
        Zq of the last pass (UQ.q_frac), complete from RECIP on; held until the next iteration's
        first block sum.
    ld_we, ld_sel, ld_bank, ld_addr, ld_data : In
        Load port (idle only): ``ld_sel`` `LD_S` (bank, address of `s_location`), `LD_Y`, `LD_V`,
        `LD_G` (address = point, data = coordinate 0 | coordinate 1 << width).
    rd_addr : In, rd_y : Out
        y read port of the selection unit (idle only; data one cycle after the address; both
        coordinates per word): the port the trace reads while busy, so that the address from the
        far-away selection unit reaches the y memory through one multiplexer selected by a
        register (``busy``), not the FSM's address multiplexer.
    st_addr : In, rd_v, rd_g, rd_a, rd_r : Out
        Read port of the update state (idle only; data one cycle after the address), for tests
        and debug; the core ties ``st_addr`` to 0.
    lt : Out, tscan0 : In(tscan_signature), tscan_push : Out(tscan_signature)
        (``ext`` only) lane ``l``'s t-SNE ops (member ``l<l>``: `tsne_ops_signature`), lane 0's
        scan output, the last lane's scan input.  The update slices are the engine's own.
    prng : Out, gauss : In
        (``ext`` only) lane 0's ``prng`` op and its Gaussian sample (INIT).
    s_addr : Out(range(sdepth)).array(K), s_data : In(p_frac + 1).array(K)
        (``ext`` only) S read: bank k's address (registers; they differ only in the ring steps of
        ``tsne_symmetric``), each bank's data one cycle later.
    """

    def __init__(self, cfg: AccelConfig, checks: bool = False, ext: bool = False):
        self.cfg = cfg
        self.checks = checks
        self.ext = ext
        tw = self.tw = TsneWidths(cfg)
        cf = cfg.coef_frac
        self.sdepth = -(-cfg.n_max // cfg.lanes) * cfg.n_max
        ldw = max(2 * tw.yb, 2 * tw.gainb, cfg.p_frac + 1)
        K = cfg.lanes
        lt = wiring.Signature({f"l{l}": Out(tsne_ops_signature(cfg)) for l in range(K)})
        ext_ports = {} if not ext else {
            "lt": Out(lt), "tscan0": In(tscan_signature(cfg)),
            "tscan_push": Out(tscan_signature(cfg)),
            "prng": Out(search_ops_signature(cfg).members["prng"].signature), "gauss": In(signed(11)),
            "s_addr": Out(range(self.sdepth)).array(K), "s_data": In(cfg.p_frac + 1).array(K)}
        super().__init__({**ext_ports,
            "n": In(cfg.count_bits), "ex": In(cf + 7), "mom_early": In(cf), "mom_late": In(cf), "lr": In(cf + 17),
            "iters": In(17), "ex_iters": In(17), "iter": Out(17),
            "go": In(1), "busy": Out(1), "done": Out(1), "zq": Out(tw.zq_total),
            "init": In(1), "seed": In(32, init=cfg.seed),
            "trace_en": In(1), "trace_every_log2": In(5), "trace": Out(trace_signature(cfg)),
            "ld_we": In(1), "ld_sel": In(2), "ld_bank": In(range(cfg.lanes)), "ld_addr": In(range(self.sdepth)),
            "ld_data": In(ldw),
            "rd_addr": In(range(cfg.n_max)), "rd_y": Out(2 * tw.yb),
            "st_addr": In(range(cfg.n_max)), "rd_v": Out(2 * tw.yb),
            "rd_g": Out(2 * tw.gainb), "rd_a": Out(2 * tw.accb), "rd_r": Out(2 * tw.accb),
        })

    def lane_port(self, l: int):
        """(``ext`` only) the ``lt`` member of lane ``l``."""
        return getattr(self.lt, f"l{l}")

    def elaborate(self, platform):
        m = Module()
        cfg, tw = self.cfg, self.tw
        S = cfg.tsne_update_slices
        K, W, Q, CF, GF, YF, GnF = cfg.lanes, cfg.w_frac, cfg.q_frac, cfg.coef_frac, cfg.grad_frac, cfg.y_frac, cfg.gain_frac
        II = timing.pair_interval("tpair")
        co = tf.Coefs.of(cfg)
        yb, ab, gb = tw.yb, tw.accb, tw.gainb

        if self.ext:     # views of the core's lanes: only the members this engine uses
            lanes = [SimpleNamespace(tsne=self.lane_port(l)) for l in range(K)]
            lanes[0].tscan_out, lanes[K - 1].tscan_in = self.tscan0, self.tscan_push
            lanes[0].ops, lanes[0].gauss = SimpleNamespace(prng=self.prng), self.gauss
        else:
            lanes = [Lane(cfg, l, checks=self.checks, with_phases=True) for l in range(K)]
            for l, ln in enumerate(lanes):
                m.submodules[f"lane{l}"] = ln
            for l in range(K - 1):
                wiring.connect(m, lanes[l].tscan_in, lanes[l + 1].tscan_out)
        slices = [UpdateSlice(cfg, k, checks=self.checks) for k in range(S)]
        for k, sl in enumerate(slices):
            m.submodules[f"upd_slice{k}"] = sl

        # ------------------------------------------------------------ memories
        sbanks = [] if self.ext else [Memory(shape=cfg.p_frac + 1, depth=self.sdepth, init=[]) for _ in range(K)]
        ymem, vmem = (Memory(shape=2 * yb, depth=cfg.n_max, init=[]) for _ in range(2))
        gmem = Memory(shape=2 * gb, depth=cfg.n_max, init=[])
        amem, rmem = (Memory(shape=2 * ab, depth=cfg.n_max, init=[]) for _ in range(2))
        sym = cfg.tsne_symmetric
        for k, b in enumerate(sbanks):
            m.submodules[f"sbank{k}"] = b
        m.submodules.ymem, m.submodules.vmem, m.submodules.gmem = ymem, vmem, gmem
        m.submodules.amem, m.submodules.rmem = amem, rmem
        s_rd = [b.read_port() for b in sbanks]
        s_wr = [b.write_port() for b in sbanks]
        y_rd, v_rd, g_rd, a_rd, r_rd = (x.read_port() for x in (ymem, vmem, gmem, amem, rmem))
        y_ru = ymem.read_port()         # the update's (beside the STREAM's y_rd)
        y_sel = ymem.read_port()        # the selection unit's (rd_addr), the trace's while busy (tidx)
        y_wr, v_wr, g_wr, a_wr, r_wr = (x.write_port() for x in (ymem, vmem, gmem, amem, rmem))
        m.d.comb += [self.rd_y.eq(y_sel.data), self.rd_v.eq(v_rd.data), self.rd_g.eq(g_rd.data),
                     self.rd_a.eq(a_rd.data), self.rd_r.eq(r_rd.data)]

        # ------------------------------------------------------------ state
        n_last = Signal(cfg.count_bits)
        m.d.sync += n_last.eq(self.n - 1)
        B_last = Signal(range(cfg.n_max + 1))         # index of the last block: (N - 1) div K
        m.d.comb += B_last.eq(n_last // K)
        cnt = Signal(range(max(cfg.n_max * II, timing.TSNE_RECIP, timing.TSNE_CA_ISSUE,
                               timing.tsne_flush_cycles(2, K, S, symmetric=sym), K) + 2))
        blk = Signal(range(cfg.n_max + 2))
        ybase = Signal(range(cfg.n_max + 2 * K + 1))  # blk K
        sbase = Signal(range(self.sdepth + cfg.n_max + 1))
        j = Signal(range(cfg.n_max + 1))
        ph = Signal(range(II))
        zq = self.zq
        pn, pz = Signal(range(tw.nin + 1)), Signal(range(tw.nin + 1))
        rn, rz = Signal(tw.rb), Signal(tw.rb)
        ca, ca_ex = Signal(tw.cab), Signal(tw.cab)

        # read addresses: PRIME -> block 0's y_i; STREAM -> j;
        # while the update reads (urun) its point on y_ru, v, g, a, r
        ra = Signal(range(cfg.n_max + 2 * K + 1))
        upt = Signal(range(cfg.n_max + 2))      # the update's next point to read
        urun = Signal()
        m.d.comb += [y_rd.addr.eq(ra), y_ru.addr.eq(upt)]
        # v, g, a, r are read only by the update and, idle, through st_addr: their addresses skip
        # the FSM's multiplexer (a memory address is the end of a long path on a slow clock)
        for rp in (v_rd, g_rd, a_rd, r_rd):
            m.d.comb += rp.addr.eq(Mux(urun, upt, self.st_addr))
        # ring steps (symmetric): bank k reads column ybase + off[k], its lane's ring partner
        R = timing.tsne_ring_steps(K, sym)
        rstep = Signal(range(R + 1))            # 1 .. R: a ring step of the STREAM; 0: broadcast
        ring = Signal()                         # rstep != 0, a register in step with rstep (below)
        off = [Signal(range(max(K, 2)), name=f"ring_off{k}") for k in range(K)]
        for k in range(K):
            m.d.comb += off[k].eq(Mux(rstep + k >= K, rstep + k - K, rstep + k))
        # The S read addresses (bank k: sbase + (ybase + off[k] in a ring step, else j)) are
        # registers loaded at each slot's transition (``s_load``) from ``s_prec{k}`` / ``s_pren{k}``,
        # the next slot's addresses (with / without a block change), which are registered in every
        # cycle from the current slot's registers (stable
        # for a slot's II >= 2 cycles, and for PRIME's K + 1): no FSM decision in front of the
        # adders, no adder between the address registers and the affinity controller's P banks.
        j_nxt, rstep_nxt, ybase_nxt, sbase_nxt = next_values(m, j, rstep, ybase, sbase)
        m.d.sync += ring.eq(rstep_nxt != 0)
        # ybase's in-step companions, so that a slot's issue flags compare registers only (the
        # lanes' tnext / tpair flags were 10.4-11.1 ns behind adders on ybase in session 41):
        # jk = ybase + K; lane_ok[l] = (ybase + l <= N - 1), loaded at a block change from
        # lane_ok_next (the next block's, registered from jk while the block runs)
        # (and sy = sbase + ybase: the S addresses below add one register to a small offset)
        jk = Signal(range(cfg.n_max + 3 * K + 1))
        sy = Signal(range(self.sdepth + cfg.n_max + 3 * K + 1))
        lane_ok, lane_ok_next = Signal(K), Signal(K)
        jk_nxt, sy_nxt, lane_ok_nxt = next_values(m, jk, sy, lane_ok)
        m.d.sync += lane_ok_next.eq(Cat(jk + l <= n_last for l in range(K)))

        def first_block():          # ybase, sbase := 0 (in every cycle outside PRIME and STREAM: below)
            m.d.comb += [ybase_nxt.eq(0), sbase_nxt.eq(0), jk_nxt.eq(K), sy_nxt.eq(0),
                         lane_ok_nxt.eq(Cat(n_last >= l for l in range(K)))]

        def next_block():           # ybase += K, sbase += n_max
            m.d.comb += [ybase_nxt.eq(ybase + K), sbase_nxt.eq(sbase + cfg.n_max), jk_nxt.eq(jk + K),
                         sy_nxt.eq(sy + cfg.n_max + K),
                         lane_ok_nxt.eq(lane_ok_next)]
        in_stream, in_prime_st = Signal(), Signal()
        if self.checks:
            m.d.sync += Assert((ring == (rstep != 0)) & (~in_stream | (jk == ybase + K) & (sy == sbase + ybase) &
                               (lane_ok == Cat(ybase + l <= n_last for l in range(K)))),
                               "t-SNE engine: rstep's / ybase's companions ring / jk / sy / lane_ok disagree")
        s_load, in_prime = Signal(), Signal()
        assert II >= 2 and K >= 1
        last_ring = rstep == R
        # the block's last j: N - 1, or (ordered pairs, several blocks) later: masked padding slots
        # (`timing.tsne_ordered_slots`)
        j_end = Signal.like(n_last)
        if sym:
            m.d.comb += j_end.eq(n_last)
        else:
            pad = timing.tsne_ordered_min_slots(K) - 1
            m.d.sync += j_end.eq(Mux((n_last >= K) & (n_last < pad), pad, n_last))
        # the slot's end tests as registers for the STREAM's decisions: j and blk change only in a
        # slot's last cycle (ph = II - 1), so from its ph 1 on at_end = (j == j_end), blk_last =
        # (blk == B_last); the block change then enables ybase and its companions from registers
        # (their enables were 10.1-10.8 ns in session 42), and chooses the next S addresses
        at_end, blk_last = Signal(), Signal()
        m.d.sync += [at_end.eq(j == j_end), blk_last.eq(blk == B_last)]
        if self.checks:
            m.d.sync += Assert(~in_stream | (ph == 0) | ((at_end == (j == j_end)) & (blk_last == (blk == B_last))),
                               "t-SNE engine: at_end / blk_last disagree with j / blk in a slot")
        j_first, j_next_block = Signal.like(j), Signal.like(j)     # driven below (symmetric j side)
        # both broadcast candidates (the next block's first address, the next j's) are registered
        # and chosen at the load by at_end & ~blk_last, valid by then (the load is in a slot's last
        # cycle, ph II - 1 >= 1, or PRIME's, where both are the PRIME address): the compare j ==
        # j_end in front of the address adders was 10.0-10.2 ns in session 43
        blk_change_q = at_end & ~blk_last
        for k in range(K):
            bank_addr = Signal(range(self.sdepth), name=f"s_addr{k}")
            pre_c = Signal(range(self.sdepth), name=f"s_prec{k}")
            pre_n = Signal(range(self.sdepth), name=f"s_pren{k}")
            ring_a = Mux(last_ring, sbase + j, sy + Mux(rstep + 1 + k >= K, rstep + 1 + k - K, rstep + 1 + k))
            chg_a = (sy + cfg.n_max + K + (k + 1) % K) if sym else (sbase + cfg.n_max + j_next_block)
            prime_a = (sy + (k + 1) % K) if sym else (sbase + j_first)
            m.d.sync += [pre_c.eq(Mux(in_prime, prime_a, Mux(ring, ring_a, chg_a))),
                         pre_n.eq(Mux(in_prime, prime_a, Mux(ring, ring_a, sbase + j + 1)))]
            with m.If(s_load):
                m.d.sync += bank_addr.eq(Mux(blk_change_q, pre_c, pre_n))
            m.d.comb += (self.s_addr[k] if self.ext else s_rd[k].addr).eq(bank_addr)
        s_data = [self.s_data[k] for k in range(K)] if self.ext else [rp.data for rp in s_rd]

        # loads
        with m.If(self.ld_we & ~self.busy):
            with m.Switch(self.ld_sel):
                with m.Case(LD_S):
                    for k, wp in enumerate(s_wr):
                        m.d.comb += [wp.addr.eq(self.ld_addr), wp.data.eq(self.ld_data), wp.en.eq(self.ld_bank == k)]
                with m.Case(LD_Y):
                    m.d.comb += [y_wr.addr.eq(self.ld_addr), y_wr.data.eq(self.ld_data), y_wr.en.eq(1)]
                with m.Case(LD_V):
                    m.d.comb += [v_wr.addr.eq(self.ld_addr), v_wr.data.eq(self.ld_data), v_wr.en.eq(1)]
                with m.Case(LD_G):
                    m.d.comb += [g_wr.addr.eq(self.ld_addr), g_wr.data.eq(self.ld_data), g_wr.en.eq(1)]

        # ------------------------------------------------------------ lane ops
        scan, snap, load = Signal(), Signal(), Signal()
        zsnap = Signal()        # tzsnap: with snap, except the last block's (with its last ring step)
        # the lanes' tnext / tpair issues come from registers (set a cycle ahead: in PRIME from cnt,
        # in a STREAM slot's first cycle from j, ybase, rstep, stable over the slot's II >= 2
        # cycles): no compare between the FSM's registers and the lanes' valid chains
        nxt = Signal(K)
        issue = Signal(K)
        m.d.sync += [nxt.eq(0), issue.eq(0)]
        rissue = Signal()
        rx = Signal(tw.nin)
        # the visitor ring (symmetric): in ring step t lane l's y_j is the block's point (l + t) mod K,
        # loaded with the lanes' next y_i (rotated by one) when they take them, shifted once a step
        yv = [[Signal(signed(tw.pyb), name=f"ring_y{l}_{c}") for c in range(2)] for l in range(K if sym else 0)]
        # the pair format: y_j read in the issue cycle, registered as sat17(y >> s) (`tsne_fixed.pair_y`)
        # for the lanes' tdiff stage a cycle later, as S_ij (the ring's y are pair-format registers)
        pyb = tw.pyb
        pair_s = Signal(range(tf.pair_shift_max(cfg) + 1))
        yc = [Signal(signed(pyb), name=f"pair_y{c}") for c in range(2)]
        # saturation tests on y itself, beside the shifter: y >> s >= lim <=> y >= lim 2^s, y >> s <
        # -lim <=> y < -lim 2^s, against thresholds set with pair_s (clamped to y's range: a test
        # that cannot hold); the tests on the shifted word's high bits after the shifter were
        # 10.2 ns in session 43
        lim = 1 << (pyb - 1)
        thr0 = pair_saturation_thresholds(cfg, 0)
        thr_p = Signal(signed(yb + 1), init=thr0[0], name="pair_thp")
        thr_n = Signal(signed(yb + 1), init=thr0[1], name="pair_thn")
        for c in range(2):
            y_in = y_rd.data[c * yb:(c + 1) * yb].as_signed()
            ysh = Signal(signed(yb), name=f"pair_ysh{c}")
            m.d.comb += ysh.eq(y_in >> pair_s)
            m.d.sync += yc[c].eq(Mux(y_in >= thr_p, lim - 1, Mux(y_in < thr_n, -lim, ysh[:pyb].as_signed())))
        s_q = [Signal(cfg.p_frac + 1, name=f"s_q{k}", reset_less=True) for k in range(K)]
        m.d.sync += [q.eq(d) for q, d in zip(s_q, s_data)]
        ring1 = Signal()        # the slot issued in the cycle before was a ring step
        m.d.sync += ring1.eq(ring & in_stream)
        d2sh, fsh = Signal(range(tw.d2sh_max + 1)), Signal(range(tw.fsh_max + 1))
        for l, ln in enumerate(lanes):
            yj = [Mux(ring1, yv[l][c], yc[c]) for c in range(2)] if sym else yc
            m.d.comb += [ln.tsne.scan.eq(scan), ln.tsne.snap.eq(snap), ln.tsne.zsnap.eq(zsnap),
                         ln.tsne.load.eq(load), ln.tsne.next.eq(nxt[l]),
                         ln.tsne.pair.issue.eq(issue[l]), ln.tsne.pair.y0.eq(yj[0]), ln.tsne.pair.y1.eq(yj[1]),
                         ln.tsne.pair.s.eq(s_q[l]), ln.tsne.pair.d2sh.eq(d2sh), ln.tsne.pair.fsh.eq(fsh)]
        with m.Switch(pair_s):
            for sv in range(tf.pair_shift_max(cfg) + 1):
                with m.Case(sv):
                    c_d2, c_f = tsne_pair_constants(cfg, sv)
                    m.d.sync += [d2sh.eq(c_d2), fsh.eq(c_f)]
        rshift = Signal()       # the visitor ring shifts in the cycle after a ring step's tdiff read
        m.d.sync += rshift.eq((ph == timing.TSNE_READ) & ring & in_stream & (rstep != R))
        block_end, block_end_d = Signal(), Signal()
        m.d.comb += block_end_d.eq(delay_line(m, block_end, 2, "block_end_d"))
        # y_i of block 0 (latched in PRIME) in the STREAM's first slot's read cycle; of the next
        # block two cycles after a block's last slot (both only in STREAM: the FSM leaves it at a
        # slot's last cycle, and a block before the last is followed by the next one's slots)
        first_ld = Signal()
        m.d.sync += first_ld.eq(0)
        m.d.comb += load.eq(first_ld | block_end_d)
        for l in range(len(yv)):
            nb_ = lanes[(l + 1) % K].tsne
            with m.If(load):
                m.d.sync += [yv[l][0].eq(nb_.yn0), yv[l][1].eq(nb_.yn1)]
            with m.Elif(rshift):
                m.d.sync += [yv[l][c].eq(yv[(l + 1) % K][c]) for c in range(2)]
        # lane 0's TRECIP: of N in SCALE's first cycle (once per run), of Zq in RECIP's; the TMUL of
        # ex rn in SCALE (`timing.TSNE_CA_ISSUE`, once per run).  Each result is captured by a delay
        # line from its issue (a trace stall at RECIP's end holds the FSM, not the captures)
        n_issue, z_issue = Signal(), Signal()
        m.d.comb += [rissue.eq(n_issue | z_issue), rx.eq(Mux(n_issue, self.n, zq))]
        m.d.comb += [lanes[0].tsne.recip.issue.eq(rissue), lanes[0].tsne.recip.x.eq(rx)]
        LR = timing.latency("trecip")
        with m.If(delay_line(m, n_issue, LR, "rcp_n")):
            m.d.sync += [pn.eq(lanes[0].tsne.p), rn.eq(lanes[0].tsne.r)]
        with m.If(delay_line(m, z_issue, LR, "rcp_z")):
            m.d.sync += [pz.eq(lanes[0].tsne.p), rz.eq(lanes[0].tsne.r)]
        c_issue = Signal()
        m.d.comb += lanes[0].tsne.mul.issue.eq(c_issue)
        with m.If(delay_line(m, c_issue, timing.latency("tmul"), "coef")):
            m.d.sync += ca_ex.eq(lanes[0].tsne.prod >> CF)
        out0 = lanes[0].tscan_out

        # ------------------------------------------------------------ hand-over beside the STREAM
        # a block's sums reach the scan registers latency("tsnap") cycles after its snap (a delay
        # line: with short blocks a second snap may follow before the first one's sums are out),
        # then K shifts; lane 0's registers before shift k are point pop_base + k's (blocks leave in
        # order: pop_base advances by K per block)
        SNAP = timing.latency("tsnap") + timing.tsne_scan_delay(K, sym)
        bg_start = Signal()
        snapped = delay_line(m, bg_start, SNAP, "snap_d")
        sh_k = Signal(range(K + 1))          # shifts of the running hand-over so far
        shifting = Signal()
        pop_k = Signal(range(K))
        pop_base = Signal(range(cfg.n_max + 2 * K + 1))
        pop_rst = Signal()
        m.d.comb += [shifting.eq(snapped | (sh_k != 0)), pop_k.eq(Mux(snapped, 0, sh_k))]
        sh_k_nxt, pop_base_nxt = next_values(m, sh_k, pop_base)
        with m.If(shifting):
            m.d.comb += sh_k_nxt.eq(Mux(pop_k == K - 1, 0, pop_k + 1))
            with m.If(pop_k == K - 1):
                m.d.comb += pop_base_nxt.eq(pop_base + K)
        with m.If(pop_rst):
            m.d.comb += pop_base_nxt.eq(0)
        # pout = pop_base + pop_k, with pop_base + sh_k registered in step (`regnext`): the point
        # addresses of the hand-over (J, A, R) come from registers through one multiplexer
        pout = Signal(range(cfg.n_max + 3 * K + 1))
        pbs = Signal.like(pout, name="pop_base_sh")
        pbs_nxt = pop_base_nxt + sh_k_nxt
        m.d.sync += pbs.eq(pbs_nxt)
        m.d.comb += pout.eq(Mux(snapped, pop_base, pbs))
        # pout <= n_last the same way (n_last is stable while busy), each flag chosen from compares
        # of the current registers (no compare behind the next values' adders)
        pout_ok, pb_le, pbs_le = Signal(), Signal(), Signal()
        wrap = shifting & (pop_k == K - 1)          # pop_base_nxt = pop_base + K, sh_k_nxt = 0
        m.d.sync += [pb_le.eq(pop_rst | Mux(wrap, pop_base + K <= n_last, pb_le)),
                     pbs_le.eq(Mux(pop_rst, sh_k_nxt <= n_last,
                                   Mux(wrap, pop_base + K <= n_last,
                                       Mux(shifting, Mux(snapped, pop_base < n_last, pbs < n_last), pbs_le))))]
        m.d.comb += pout_ok.eq(Mux(snapped, pb_le, pbs_le))
        with m.If(shifting):
            m.d.comb += scan.eq(1)
            with m.If(pout_ok):
                if not sym:
                    m.d.comb += [a_wr.addr.eq(pout), a_wr.data.eq(Cat(out0.ax, out0.ay)), a_wr.en.eq(1),
                                 r_wr.addr.eq(pout), r_wr.data.eq(Cat(out0.rx, out0.ry)), r_wr.en.eq(1)]
        # Zq: the K lanes' snapped partials (``szq`` from TSNE_ZQ_TAP cycles after the snap until the
        # next snap; a lane without a point issued no pair and holds 0) summed
        # by a tree of registered 4-input levels, then added to the run's Zq
        zq_start = Signal()     # a block's tzsnap in the STREAM (not PRIME's)
        zq_v = delay_line(m, zq_start, timing.TSNE_ZQ_TAP, "zq_tap")
        zq_part = [ln.tsne.szq for ln in lanes]
        for lvl in range(timing.tsne_zq_levels(K)):
            sums = [Signal(tw.zq_total, name=f"zq_tree{lvl}_{k // 4}") for k in range(0, len(zq_part), 4)]
            m.d.sync += [r.eq(sum(zq_part[4 * k:4 * k + 4])) for k, r in enumerate(sums)]
            zq_part, zq_v = sums, delay_line(m, zq_v, 1, f"zq_tree{lvl}_v")
        assert len(zq_part) == 1
        # zq restarts from the iteration's first sum (zq_new, set where an iteration begins): no
        # clear from the FSM's end-of-iteration decision in front of zq's adder (10.6 ns in
        # session 43); zq keeps the last iteration's value until then
        zq_new = Signal(init=1)
        with m.If(zq_v):
            # symmetric: each unordered pair's kernel is in one lane's partial, Zq counts it twice
            m.d.sync += [zq.eq(Mux(zq_new, 0, zq) + (zq_part[0] << 1 if sym else zq_part[0])), zq_new.eq(0)]
        # FLUSH's length (`timing.tsne_flush_cycles`: a function of the last block's index; N is
        # stable while busy): FLUSH starts II - TSNE_READ cycles after the last snap
        fl0 = II - timing.TSNE_READ + 1
        fl_tab = [timing.tsne_flush_cycles(b * K + 1, K, S, symmetric=sym) - fl0
                  for b in range((cfg.n_max - 1) // K + 1)]
        while len(fl_tab) > 1 and fl_tab[-1] == fl_tab[-2]:     # the last entry serves the rest
            fl_tab.pop()
        fl_end = Signal(range(max(fl_tab) + 1))
        m.d.sync += fl_end.eq(fl_tab[-1])
        with m.Switch(B_last):
            for b, v in enumerate(fl_tab[:-1]):
                with m.Case(b):
                    m.d.sync += fl_end.eq(v)
        slot = Signal()         # a broadcast slot's issue cycle
        rslot = Signal()        # a ring step's issue cycle
        # the first j of block 0's and of the next block's broadcast (ordered pairs: 0)
        m.d.comb += [a.eq(b) for a, b in zip((j_first, j_next_block),
                     symmetric_jside(self, m, lanes, out0, shifting, pout, pout_ok, pop_base, pop_k, pop_rst,
                                     B_last, slot, rslot, rstep, j, blk, ybase, a_wr, r_wr)
                     if sym else (C(0, len(j)), C(0, len(j))))]

        # ------------------------------------------------------------ trace stream
        tr = self.trace
        tidx = Signal(range(cfg.n_max + 1))
        tidx1 = Signal(range(cfg.n_max + 2))        # tidx + 1 (no adder before the read address)
        tidx_in, tidx1_in = Signal(), Signal()      # tidx <= n_last, tidx + 1 <= n_last
        # the embedding beats are read ahead of the stream (`hw.readahead`; tidx: the next point
        # to read), so the read address does not depend on the stream's ready, on the selection
        # unit's port (y_sel: idle only), whose address is tidx while busy: a register behind one
        # multiplexer (through the STREAM's port, behind the FSM's address multiplexer, the beat
        # register was 11.1 ns in session 41).  tidx is 0 outside TRACE: ymem[0] is read for the
        # first embedding beat in the update's last cycle
        t_ra = ReadAhead(1, tag=tidx, data=y_sel.data, name="tr")
        m.d.comb += y_sel.addr.eq(Mux(self.busy, tidx, self.rd_addr))
        tsel = Signal()         # the embedding after this iteration is traced (tsne_fixed.trace_selected)
        last_iter = Signal()    # iter + 1 == iters
        mask = Signal(17)
        early = Signal()          # iter < ex_iters
        restart = Signal()        # first iteration after the exaggeration: v = 0, gains = 1.0
        # the iteration's flags are registers written with iter (from iter + 1 and iter + 2, beside
        # the FSM's decision): no 17-bit adder or compare in front of the FSM and the trace
        # registers' enables (iters, ex_iters and trace_every_log2 are stable from go on)
        m.d.comb += mask.eq((C(1, 18) << self.trace_every_log2) - 1)

        def set_iter(value):
            """iter <= value (0 or iter + 1), with its flags."""
            m.d.sync += [self.iter.eq(value), last_iter.eq(value + 1 == self.iters),
                         tsel.eq((((value + 1) & mask) == 0) | (value + 1 == self.iters)),
                         early.eq(value < self.ex_iters), restart.eq((value == self.ex_iters) & (value != 0))]

        def finish_iteration():
            with m.If(last_iter):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                m.next = "IDLE"
            with m.Else():      # next iteration: no gap (tsne_schedule.run_cycles)
                m.d.sync += [cnt.eq(0), zq_new.eq(1)]
                set_iter(self.iter + 1)
                m.next = "PRIME"

        # ------------------------------------------------------------ the update beside the FSM
        # started by RECIP's last cycle: point upt read in the first S cycles of each burst of
        # P = S x interval cycles (uph < S, while urun; `timing.tsne_update_offset`), issued to slice
        # upd_lane in the next cycle; urun ends after the last point's read
        P = S * timing.tsne_update_interval(S)
        uph = Signal(range(P))
        in_burst = Signal()
        upd_issue = Signal()                    # tupd issue (registered read strobe)
        upd_lane = Signal(range(max(2, S)))
        upd_start, upd_last = Signal(), Signal()
        m.d.comb += in_burst.eq(uph < S)
        m.d.sync += upd_issue.eq(urun & in_burst)
        with m.If(upd_start):
            m.d.sync += [urun.eq(1), upt.eq(0), uph.eq(0), upd_lane.eq(0)]
        with m.Elif(urun):
            m.d.sync += uph.eq(Mux(uph == P - 1, 0, uph + 1))
            with m.If(in_burst):
                m.d.sync += upt.eq(upt + 1)
                with m.If(upt == n_last):
                    m.d.sync += urun.eq(0)
        with m.If(upd_issue):
            m.d.sync += upd_lane.eq(Mux(upd_lane == S - 1, 0, upd_lane + 1))
        # an overlapped update: the next PRIME follows after timing.tsne_overlap_delay cycles
        # (`timing.tsne_overlap_terms` evaluated for the run-time N, registered in steps: N is stable
        # while busy)
        def times(x, c):        # x c for a small constant c, as shifted adds (no multiplier)
            return sum((x << b for b in range(c.bit_length()) if c >> b & 1), C(0, 1))
        ot = timing.tsne_overlap_terms(K, S, symmetric=sym)
        odelay = Signal(range(timing.tsne_overlap_delay(cfg.n_max, K, S, symmetric=sym) + 1))
        first_k = Signal(range(K))
        m.d.comb += first_k.eq(Mux(n_last < K - 1, n_last, K - 1))
        prime_t = Signal(range(max(ot["prime"]) + 1))
        with m.Switch(first_k):
            for l, v in enumerate(ot["prime"]):
                with m.Case(l):
                    m.d.sync += prime_t.eq(v)
        vmax = cfg.n_max * P + abs(ot["h0"]) + abs(ot["h1"]) + abs(ot["lead"]) + 1
        stream_t, h = Signal(signed(vmax.bit_length() + 1)), Signal(signed(vmax.bit_length() + 1))
        if ot["D"] >= 0:
            qmax = Signal(range(cfg.n_max // S + 1))
            m.d.sync += qmax.eq(const_div(n_last, S, cfg.n_max))
            hq = times(qmax, ot["D"])
        else:
            hq = C(ot["h1"], signed(len(stream_t)))
        m.d.sync += h.eq(Mux((n_last >= ot["j1"]) & (hq > ot["h0"]), hq, ot["h0"]))
        m.d.comb += stream_t.eq(h - ot["lead"])
        # no broadcast read of a point >= j0 (symmetric with N <= K)
        stream_on = (stream_t > prime_t) & (n_last >= ot["j0"])
        m.d.sync += odelay.eq(ot["base"] + Mux(stream_on, stream_t, prime_t))
        ocnt = Signal.like(odelay)
        # finish_iteration's conditions as registers kept in step with their counters (the OR of
        # ocnt == 0, waddr == N - 1 and the trace's last beat enabled iter and its flags, busy, cnt
        # and the state: 10.3-11.2 ns in session 43's first routing): ocnt_z = (ocnt == 0) in
        # OVERLAP, wlast = (waddr == N - 1), tr_last = (the trace beat is point N - 1's)
        ocnt_z, wlast, tr_last = Signal(init=1), Signal(), Signal()
        # tr_end = (TRACE and the beat held is the iteration's last: point N - 1's, or the Zq beat
        # when the embedding is not traced), kept in step with the beat register, so that the
        # iteration's end in TRACE is tr_end & ready (the state decode, valid and the tsel / tr_last
        # choice in front of ready fed iter's and its flags' enables: 10.3-10.8 ns in session 43)
        tr_end = Signal()
        zq_solo = Signal()      # the trace holds an overlapped iteration's Zq beat
        with m.If(zq_solo & tr.valid & tr.ready):
            m.d.sync += [tr.valid.eq(0), zq_solo.eq(0)]

        # ------------------------------------------------------------ the pair shift
        # OR of |y| (one's complement for negatives) over the SCALE reads and the update's writes;
        # the shift (`tsne_fixed.pair_shift`, tabulated by the OR's bit length) is set at the end of
        # SCALE and as each update starts (the embedding of the iteration before: complete by then)
        mag_or = Signal(yb - 1)
        scale_rd, scale_v, set_shift = Signal(), Signal(), Signal()
        m.d.sync += scale_v.eq(scale_rd)

        def mag(word):
            return Cat(*(word[c * yb:(c + 1) * yb - 1] ^ word[(c + 1) * yb - 1].replicate(yb - 1)
                         for c in range(2)))
        blen = Signal(range(yb))
        for b in range(yb - 1):
            with m.If(mag_or[b]):
                m.d.comb += blen.eq(b + 1)
        with m.If(set_shift):
            with m.Switch(blen):
                for b in range(yb):
                    with m.Case(b):
                        sv = int(tf.pair_shift(np.array([[(1 << b) - 1]]), cfg))
                        hi, lo = pair_saturation_thresholds(cfg, sv)
                        m.d.sync += [pair_s.eq(sv), thr_p.eq(hi), thr_n.eq(lo)]
        with m.If(scale_v):
            m.d.sync += mag_or.eq(mag_or | mag(y_rd.data)[:yb - 1] | mag(y_rd.data)[yb - 1:])
        m.d.comb += set_shift.eq(upd_start)      # (also at the end of SCALE, in the FSM)

        # ------------------------------------------------------------ FSM
        # INIT: the PRNG seed lane 0 sees, one cycle ahead of its load (the lane registers the seed:
        # `Lane` PRNG): point i's coordinate-0 stream seed ^ TSNE_INIT_STREAM + i SEED_POINT_STEP,
        # then + SEED_LANE_STEP for coordinate 1
        ipt = Signal(32)
        ig0 = Signal(signed(11))
        ish = cfg.y_frac - cfg.tsne_init_frac
        m.d.sync += self.done.eq(0)
        with m.FSM(name="tsne") as fsm:
            with m.State("IDLE"):
                m.d.comb += lanes[0].ops.prng.point.eq(self.seed ^ tf.TSNE_INIT_STREAM)
                with m.If(self.init):
                    m.d.sync += [cnt.eq(0), upt.eq(0), ipt.eq(self.seed ^ tf.TSNE_INIT_STREAM), self.busy.eq(1)]
                    m.next = "INIT"
                with m.Elif(self.go):
                    m.d.sync += [cnt.eq(0), zq_new.eq(1), self.busy.eq(1), mag_or.eq(0)]
                    set_iter(C(0, 17))
                    m.next = "SCALE"
            with m.State("SCALE"):
                # y of point cnt read (cnt < N), its magnitude ORed a cycle later; then the shift
                # (and at least until the TMUL of ex rn: `tsne_schedule.scale_cycles`)
                assert timing.TSNE_SCALE == 2
                m.d.comb += [ra.eq(cnt), scale_rd.eq(cnt <= n_last), n_issue.eq(cnt == 0),
                             c_issue.eq(cnt == timing.TSNE_CA_ISSUE)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If((cnt >= n_last + 2) & (cnt >= timing.TSNE_CA_ISSUE)):
                    m.d.comb += set_shift.eq(1)
                    m.d.sync += cnt.eq(0)
                    m.next = "PRIME"
            with m.State("INIT"):
                # per point (4 cycles): lane 0's PRNG loaded with the stream of coordinate 0, stepped,
                # its Gaussian kept, the same for coordinate 1; the point is written one cycle later
                assert timing.TSNE_INIT_POINT == 4
                m.d.sync += cnt.eq(Mux(cnt == 3, 0, cnt + 1))
                pr = lanes[0].ops.prng
                m.d.comb += [pr.load.eq(((cnt == 0) | (cnt == 2)) & (upt <= n_last)), pr.step.eq((cnt == 1) | (cnt == 3)),
                             pr.point.eq(ipt)]
                # presented: cnt 0 the point's seed, 1-2 its coordinate-1 seed, 3 the next point's seed
                with m.If(cnt == 0):
                    m.d.sync += ipt.eq(ipt + sf.SEED_LANE_STEP)
                with m.If(cnt == 2):
                    m.d.sync += ipt.eq(ipt + ((sf.SEED_POINT_STEP - sf.SEED_LANE_STEP) & sf.MASK32))
                with m.If(cnt == 2):
                    m.d.sync += ig0.eq(lanes[0].gauss)
                yi = [Signal(signed(yb), name=f"init_y{c}") for c in range(2)]
                m.d.comb += [yi[0].eq(ig0 << ish), yi[1].eq(lanes[0].gauss << ish)]
                with m.If((cnt == 0) & (upt != 0)):
                    m.d.comb += [y_wr.addr.eq(upt - 1), y_wr.data.eq(_pack(yi[0], yi[1], yb)), y_wr.en.eq(1),
                                 v_wr.addr.eq(upt - 1), v_wr.data.eq(0), v_wr.en.eq(1),
                                 g_wr.addr.eq(upt - 1), g_wr.data.eq(_pack(C(co.gain_one, gb), C(co.gain_one, gb), gb)),
                                 g_wr.en.eq(1)]
                with m.If(cnt == 3):
                    m.d.sync += upt.eq(upt + 1)
                with m.If((cnt == 0) & (upt == n_last + 1)):
                    m.d.sync += [self.busy.eq(0), self.done.eq(1), cnt.eq(0)]
                    m.next = "IDLE"
            with m.State("PRIME"):
                # read y of point cnt; lane cnt - 1 latches the read of the cycle before
                m.d.comb += [ra.eq(cnt), snap.eq(cnt == 0), zsnap.eq(cnt == 0), pop_rst.eq(cnt == 0), in_prime.eq(1)]
                m.d.sync += cnt.eq(cnt + 1)
                for l in range(K):
                    m.d.sync += nxt[l].eq(cnt == l)         # lane l latches in cnt == l + 1
                with m.If(cnt == K):
                    m.d.sync += [cnt.eq(0), ph.eq(0)]
                    m.d.comb += s_load.eq(1)
                    m.d.comb += [j_nxt.eq(j_first), rstep_nxt.eq(1 if sym else 0)]
                    m.next = "STREAM"
            with m.State("STREAM"):
                m.d.comb += [ra.eq(j), in_stream.eq(1)]
                m.d.sync += ph.eq(Mux(ph == II - 1, 0, ph + 1))
                jrel = Signal(range(-3 * K, cfg.n_max + 1))
                m.d.comb += jrel.eq(j - jk)                 # j - ybase - K
                assert timing.TSNE_READ == 1 and II >= 2      # the slot's issue flags set in its ph 0
                with m.If((ph == timing.TSNE_READ - 1) & ring):
                    # ring step t = rstep: lane l with the block's point (l + t) mod K
                    partner_ok = Signal(K)                  # lane_ok[(l + t) mod K]
                    with m.Switch(rstep):
                        for t in range(R + 1):
                            with m.Case(t):
                                m.d.comb += partner_ok.eq(Cat(lane_ok[(l + t) % K] for l in range(K)))
                    for l in range(K):
                        both = lane_ok[l] & partner_ok[l]
                        m.d.sync += issue[l].eq(both & timing.tsne_ring_issue(rstep, l, K))
                with m.If((ph == timing.TSNE_READ - 1) & ~ring):
                    for l in range(K):
                        pair_ok = (j >= jk) if sym else ((jrel != l - K) & (j <= n_last))
                        m.d.sync += [issue[l].eq(lane_ok[l] & pair_ok), nxt[l].eq(jrel == l)]
                with m.If((ph == timing.TSNE_READ) & ring):
                    m.d.comb += rslot.eq(1)
                with m.If((ph == timing.TSNE_READ) & ~ring):
                    m.d.comb += slot.eq(1)
                    with m.If(at_end):
                        m.d.comb += [snap.eq(1), bg_start.eq(1)]
                        if not sym:     # ordered pairs: the last block's Zq with its snap too
                            m.d.comb += [zsnap.eq(1), zq_start.eq(1)]
                        else:
                            with m.If(~blk_last):
                                m.d.comb += [zsnap.eq(1), zq_start.eq(1)]
                if sym:         # the last block's Zq: with its last ring step (`timing.tsne_zq_lead`)
                    with m.If((ph == timing.TSNE_READ) & ring & last_ring & blk_last):
                        m.d.comb += [zsnap.eq(1), zq_start.eq(1)]
                # y_i of block 0 (latched in PRIME) in the STREAM's first cycle; of the next block after
                # the last slot
                # (the lanes read y^_i and the ring's y in the tdiff stage, a cycle after the issue,
                # and latch a next y^_i (tnext) then: the loads come after the issue, so that the
                # first slot's tdiff sees them, and two cycles after a block's last slot)
                first = ((rstep == 1) & (blk == 0)) if sym else ((j == 0) & (blk == 0))
                m.d.comb += block_end.eq((ph == timing.TSNE_READ) & ~ring & at_end & ~blk_last)
                # the first slot's load as a register set in the cycle before (ph TSNE_READ - 1 of
                # the same slot): load then comes from two registers, no FSM decode (it enables the
                # visitor ring's y registers and every lane's y_i: 10.6 ns before session 41)
                m.d.sync += first_ld.eq(first & (ph == timing.TSNE_READ - 1))
                with m.If(ph == II - 1):
                    m.d.comb += s_load.eq(1)
                    with m.If(ring):
                        m.d.comb += rstep_nxt.eq(Mux(rstep == R, 0, rstep + 1))
                    with m.Else():
                        m.d.comb += j_nxt.eq(j + 1)
                        with m.If(at_end):
                            with m.If(blk_last):
                                m.d.sync += cnt.eq(0)
                                m.next = "FLUSH"
                            with m.Else():
                                m.d.sync += blk.eq(blk + 1)
                                m.d.comb += [j_nxt.eq(j_next_block), rstep_nxt.eq(1 if sym else 0)]
                                next_block()
            with m.State("FLUSH"):
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == fl_end):
                    m.d.sync += cnt.eq(0)
                    m.next = "RECIP"
            with m.State("RECIP"):
                # cnt 0: TRECIP of Zq on lane 0, captured by a delay line; the update starts
                # TSNE_RECIP - 1 cycles later, so that its first point's rrz products find rz
                m.d.sync += cnt.eq(cnt + 1)
                m.d.comb += z_issue.eq(cnt == 0)
                with m.If(cnt == timing.TSNE_RECIP - 1):
                    with m.If(self.trace_en & tr.valid):
                        m.d.sync += cnt.eq(cnt)     # the last Zq beat is still waiting for ready
                    with m.Else():
                        m.d.sync += cnt.eq(0)
                        m.d.comb += upd_start.eq(1)
                        with m.If(last_iter | (self.trace_en & tsel)):
                            m.next = "UPDATE"       # the update alone, then TRACE or done
                        with m.Else():
                            with m.If(self.trace_en):
                                m.d.sync += [tr.valid.eq(1), tr.kind.eq(tf.TRACE_ZQ), tr.iter.eq(self.iter),
                                             tr.index.eq(0), tr.data.eq(zq), zq_solo.eq(1), tr_last.eq(0)]
                            m.d.sync += [ocnt.eq(odelay - 1), ocnt_z.eq(odelay == 1)]
                            m.next = "OVERLAP"
            with m.State("OVERLAP"):
                # the update runs on; the next iteration begins timing.tsne_overlap_delay cycles
                # after it started
                m.d.sync += [ocnt.eq(ocnt - 1), ocnt_z.eq(ocnt == 1)]
                with m.If(ocnt_z):
                    finish_iteration()
            with m.State("UPDATE"):
                with m.If(upd_last):
                    with m.If(self.trace_en):
                        # the Zq beat first; ymem[0] is read now (tidx = 0) for the first embedding beat
                        m.d.sync += [tr.valid.eq(1), tr.kind.eq(tf.TRACE_ZQ), tr.iter.eq(self.iter), tr.index.eq(0), tr_last.eq(0),
                                     tr_end.eq(~tsel),
                                     tr.data.eq(zq), t_ra.fl_v[0].eq(tsel), t_ra.fl_tag[0].eq(0), t_ra.count.eq(0),
                                     tidx.eq(1), tidx1.eq(2), tidx_in.eq(n_last != 0), tidx1_in.eq(n_last > 1)]
                        m.next = "TRACE"
                    with m.Else():
                        finish_iteration()
            with m.State("TRACE"):
                # reads issue while the buffer has room for every word in flight
                take = ~tr.valid | tr.ready          # the beat register is free after this cycle
                issue = tsel & tidx_in & t_ra.room
                with m.If(issue):
                    m.d.sync += [tidx.eq(tidx1), tidx1.eq(tidx1 + 1), tidx_in.eq(tidx1_in), tidx1_in.eq(tidx1 < n_last)]
                emit, out_i, out_y = t_ra.step(m, issue, tidx, y_sel.data, take)
                with m.If(take):
                    m.d.sync += [tr.valid.eq(emit), tr_end.eq(emit & (out_i == n_last))]
                    with m.If(emit):
                        m.d.sync += [tr.kind.eq(tf.TRACE_Y), tr.index.eq(out_i), tr.data.eq(out_y),
                                     tr_last.eq(out_i == n_last)]
                # the last beat (the Zq beat alone when the embedding is not traced) transfers
                with m.If(tr_end & tr.ready):
                    m.d.sync += tidx.eq(0)
                    finish_iteration()

        # ybase, sbase and their companions at block 0's values, blk 0, in every cycle outside
        # PRIME and STREAM (unused there; every entry to PRIME finds them set): their enables are
        # a state decode or a block change, not the OR of every transition into PRIME
        m.d.comb += in_prime_st.eq(in_prime | in_stream)
        with m.If(~in_prime_st):
            first_block()
            m.d.sync += blk.eq(0)

        # ------------------------------------------------------------ ca = ex rn >> coef_frac
        # what the update needs of its iteration, kept while the next one begins (iter, zq move on;
        # pn, pz, rz are rewritten only after the next STREAM, which trails the update).  ca is
        # ex rn >> coef_frac (TMUL on lane 0 in SCALE) during the exaggeration, then rn (ex = 1.0)
        u_restart, u_zq0 = Signal(), Signal()
        u_mom = Signal.like(self.mom_early)
        m.d.comb += [lanes[0].tsne.mul.a.eq(self.ex), lanes[0].tsne.mul.b.eq(rn)]
        # ca < 2^(7 + W): ex < 2^(coef_frac + 7), rn <= 2^W
        assert ((1 << (CF + 7)) - 1) * (1 << W) >> CF < 1 << tw.cab

        # ------------------------------------------------------------ the update slices (tupd)
        with m.If(upd_start):
            m.d.sync += [u_restart.eq(restart), u_zq0.eq(zq == 0), ca.eq(Mux(early, ca_ex, rn)),
                         u_mom.eq(Mux(early, self.mom_early, self.mom_late))]
        ZB = repulsion_shift_bias(Q)
        # the update's shifts, registered from pn (SCALE) and pz (captured with upd_start, so these
        # copies are valid from the update's first issue, TSNE_READ after its first read, on): no
        # adder or compare before the slices' shifters
        u0 = slices[0].tsne.upd
        kn, kzr, kzl = (Signal.like(getattr(u0, f), name=f"u_{f}") for f in ("kn", "kzr", "kzl"))
        kneg = Signal(name="u_kneg")
        m.d.sync += [kn.eq(pn + W - 1), kneg.eq(pz + W < ZB), kzr.eq(Mux(pz + W < ZB, 0, pz + W - ZB)),
                     kzl.eq(Mux(pz + W < ZB, ZB - W - pz, 0))]
        for sidx, sl in enumerate(slices):
            u = sl.tsne.upd
            m.d.comb += [u.ca.eq(ca), u.kn.eq(kn), u.kneg.eq(kneg), u.kzr.eq(kzr), u.kzl.eq(kzl),
                         u.zq0.eq(u_zq0), u.rz.eq(rz), u.mom.eq(u_mom), u.lr.eq(self.lr)]
            for c in range(2):
                m.d.comb += [getattr(u, f"a{c}").eq(a_rd.data[c * ab:(c + 1) * ab].as_signed()),
                             getattr(u, f"r{c}").eq(r_rd.data[c * ab:(c + 1) * ab].as_signed()),
                             getattr(u, f"y{c}").eq(y_ru.data[c * yb:(c + 1) * yb].as_signed()),
                             getattr(u, f"v{c}").eq(Mux(u_restart, 0, v_rd.data[c * yb:(c + 1) * yb].as_signed())),
                             getattr(u, f"g{c}").eq(Mux(u_restart, co.gain_one, g_rd.data[c * gb:(c + 1) * gb]))]
            m.d.comb += u.issue.eq(upd_issue & (upd_lane == sidx))
        # results: slice (i mod S) in the cycle issue + latency("tupd"), through a multiplexer register
        L = timing.latency("tupd")
        wv = delay_line(m, upd_issue, L, "upd_wv")
        wlane = Signal(range(max(2, S)))
        wq, waddr = Signal(), Signal(range(cfg.n_max + 1))
        yq, vq, gq = Signal(2 * yb), Signal(2 * yb), Signal(2 * gb)
        m.d.sync += wq.eq(wv)
        with m.If(wv):
            m.d.sync += wlane.eq(Mux(wlane == S - 1, 0, wlane + 1))
            with m.Switch(wlane):
                for k, sl in enumerate(slices):
                    with m.Case(k):
                        t = sl.tsne
                        m.d.sync += [yq.eq(_pack(t.uy0, t.uy1, yb)), vq.eq(_pack(t.uv0, t.uv1, yb)),
                                     gq.eq(_pack(t.ug0, t.ug1, gb))]
        waddr_nxt = next_values(m, waddr)
        m.d.sync += wlast.eq(waddr_nxt == n_last)
        with m.If(wq):
            m.d.comb += waddr_nxt.eq(waddr + 1)
            m.d.comb += [y_wr.addr.eq(waddr), y_wr.data.eq(yq), y_wr.en.eq(1),
                         v_wr.addr.eq(waddr), v_wr.data.eq(vq), v_wr.en.eq(1),
                         g_wr.addr.eq(waddr), g_wr.data.eq(gq), g_wr.en.eq(1)]
        m.d.comb += upd_last.eq(wq & wlast)
        if self.checks:
            m.d.sync += Assert((ocnt_z == (ocnt == 0)) & (~wq | (wlast == (waddr == n_last))) &
                               (~(tr.valid & self.busy) | (tr_last == ((tr.kind == tf.TRACE_Y) & (tr.index == n_last)))),
                               "t-SNE engine: ocnt_z / wlast / tr_last disagree with their counters")
            m.d.sync += Assert(tr_end == (fsm.ongoing("TRACE") & tr.valid & (tr_last | ~tsel)),
                               "t-SNE engine: tr_end disagrees with the state and the trace beat")
        # the pair shift's OR: the update's writes (the next iteration but one takes its shift)
        with m.If(upd_start):
            m.d.sync += mag_or.eq(0)
        with m.Elif(wq):
            m.d.sync += mag_or.eq(mag_or | mag(yq)[:yb - 1] | mag(yq)[yb - 1:])
        with m.If(upd_start):
            m.d.comb += waddr_nxt.eq(0)
            m.d.sync += wlane.eq(0)
        return m
