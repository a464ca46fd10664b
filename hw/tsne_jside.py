"""The t-SNE engine's j side in the symmetric dataflow (``AccelConfig.tsne_symmetric``; the engine is
`hw.tsne`, the twin `golden_model.tsne_fixed`, the schedule `golden_model.tsne_schedule`): the
broadcast slots' adder trees and J memories, the ring steps' visitor sums and V memory, and the
hand-over that adds both to each lane's sums (docs/hardware.md "t-SNE engine", dataflow (a'))."""

from __future__ import annotations

from amaranth.hdl import C, Cat, Mux, Signal, signed
from amaranth.lib.memory import Memory

from golden_model import timing

from .delay import delay_line

__all__ = ["symmetric_jside"]


def symmetric_jside(eng, m, lanes, out0, shifting, pout, pout_ok, pop_base, pop_k, pop_rst, B_last, slot, rslot, rstep,
                    j, blk, ybase, a_wr, r_wr):
    """The symmetric dataflow's j side (``tsne_symmetric``, docs/hardware.md "t-SNE engine").

    Each unordered pair once: block b first pairs its own points in the ring steps (lane l with
    point (l + t) mod K, `timing.tsne_ring_steps`), then lane l pairs its point with the
    broadcast j >= bK + K.  The pair's j-side terms are exact from the i-side ones:
    ``floor(-x / 2^s) = -floor(x / 2^s) - sticky``.  Broadcast slots: the K lanes' terms (x, then
    y in the next cycle) are summed by an adder tree (`timing.tsne_jtree` cycles; the sticky
    bits counted beside it) and subtracted from point j's entry of the J memories (A, R; read,
    then written: `timing.TSNE_JRMW`), which block 0 writes afresh.  Ring steps: lane l's terms
    are subtracted from the visitor sums at ring position l, which travel with the visitor y
    (one shift a step) and after the last step are flushed, one position a cycle, into the V
    memory (two blocks deep).  A block's hand-over adds J (not for block 0, whose points no
    broadcast passed) and V to each lane's sums on their way into A and R, one cycle after the
    shift (`timing.tsne_scan_delay` puts the first shift after both are written).  Every sum
    is taken modulo 2^accb: the final values fit, so the wrap is exact.  Returns block 0's and
    the next block's first broadcast j (`timing.tsne_block_start`)."""
    cfg, tw = eng.cfg, eng.tw
    K, ab = cfg.lanes, tw.accb
    acc = signed(ab)
    # the tree's and the ring's sums hold at most K and K div 2 terms: narrower than the J, A, R
    # sums (`TsneWidths.jtreeb`, ``ringb``), sign-extended where they join them
    tbw, rbw = tw.jtreeb, tw.ringb
    R = timing.tsne_ring_steps(K, True)
    # first broadcast j: block 0 min(K, N - bmin), block b + 1 min((b + 2) K, N - bmin), >= 0
    # (`timing.tsne_block_start`)
    bm = {(f, l): timing.tsne_broadcast_min(K, first=f, last=l) for f in (False, True) for l in (False, True)}
    lims = {}
    for key in bm:
        lims[key] = Signal(signed(cfg.count_bits + 2), name=f"jlim_{int(key[0])}{int(key[1])}")
        m.d.sync += lims[key].eq(eng.n - bm[key])
    j_first, j_next_block = Signal.like(j, name="j_first"), Signal.like(j, name="j_next_block")

    def start(cand, lim):
        return Mux(cand < lim, cand, Mux(lim < 0, 0, lim))
    nb = Signal(signed(len(ybase) + 2), name="nb")
    m.d.comb += [nb.eq(ybase + 2 * K),
                 j_first.eq(start(C(K), Mux(B_last == 0, lims[True, True], lims[True, False]))),
                 j_next_block.eq(start(nb, Mux(blk + 1 == B_last, lims[False, True], lims[False, False])))]

    LV = timing.tsne_jtree(K) - 1

    def tree(vals, nm):
        lvl = 0
        while len(vals) > 1:
            nxt = []
            for k in range(0, len(vals), 2):
                r = Signal(signed(tbw), name=f"{nm}_l{lvl + 1}_{k // 2}")
                m.d.sync += r.eq(vals[k] + vals[k + 1] if k + 1 < len(vals) else vals[k])
                nxt.append(r)
            vals, lvl = nxt, lvl + 1
        assert lvl == LV, (lvl, LV)
        return vals[0]

    # a ring step's terms: x in the cycle tacc after its issue, y in the next
    ac0 = timing.uses("tpair", "tacc")[0]
    # the lanes register a ring term's operands (``jna`` = ~t, ``jca`` = ~sticky) the cycle before
    # (``jring`` high in both coordinates' cycles); at any other time they hold all ones and 1
    rfn = delay_line(m, rslot, ac0 - 1, "ring_fn")
    rx, ry, rlast = Signal(), Signal(), Signal()
    m.d.sync += [rx.eq(rfn), ry.eq(rx)]
    for ln in lanes:
        m.d.comb += ln.tsne.jring.eq(rfn | rx)
    rlast_q = delay_line(m, rslot & (rstep == R), ac0 + 2, "ring_last")
    m.d.comb += rlast.eq(rlast_q)
    rterm = rx | ry

    tots = []
    for t in ("a", "r"):
        sums = tree([Mux(ln.tsne.jv & ~rterm, getattr(ln.tsne, f"jf{t}")[:tw.termb].as_signed(), 0) for ln in lanes],
                    f"jt{t}")
        pop = Signal(range(K + 1), name=f"jpop{t}")
        m.d.comb += pop.eq(sum(ln.tsne.jv & ~rterm & getattr(ln.tsne, f"jstk{t}") for ln in lanes))
        tot = Signal(acc, name=f"jtot{t}")
        m.d.sync += tot.eq(sums + delay_line(m, pop, LV, f"jpop{t}_d"))
        tots.append(tot)
    # the slot's j (and whether it is block 0's) when its x sums leave the tree
    D = ac0 + timing.tsne_jtree(K)
    sv, sf = (delay_line(m, x, D, f"{nm}_d") for x, nm in ((slot, "jslot"), (blk == 0, "jfresh")))
    sj_pre = delay_line(m, j, D - 1, "jj_d")     # the slot's j a cycle early: J is read then
    sj = Signal.like(j, name="jj")
    m.d.sync += sj.eq(sj_pre)

    jam, jrm = (Memory(shape=2 * ab, depth=cfg.n_max, init=[]) for _ in range(2))
    m.submodules.jamem, m.submodules.jrmem = jam, jrm
    rmw = [jam.read_port(), jrm.read_port()]
    hand = [jam.read_port(), jrm.read_port()]
    wr = [jam.write_port(), jrm.write_port()]
    # J[j] is written in the cycle after the x sums leave the tree (with the y sums): read a cycle
    # before they leave and registered, so the subtraction starts from registers (no hazard: a
    # slot's j is read again only in the next block, many cycles after this write)
    assert timing.TSNE_JRMW == 2
    wv, wf, wj = Signal(), Signal(), Signal.like(j)
    m.d.sync += [wv.eq(sv), wf.eq(sf), wj.eq(sj)]
    for k, (rp, wp, tot) in enumerate(zip(rmw, wr, tots)):
        xs = Signal(acc)            # the x sum, held for the y sum's cycle
        m.d.sync += xs.eq(tot)
        old = Signal(2 * ab, name=f"jold{k}")
        m.d.sync += old.eq(rp.data)
        nx, ny = Signal(acc), Signal(acc)
        m.d.comb += [rp.addr.eq(sj_pre),
                     nx.eq(Mux(wf, 0, old[:ab].as_signed()) - xs),
                     ny.eq(Mux(wf, 0, old[ab:].as_signed()) - tot),
                     wp.addr.eq(wj), wp.en.eq(wv), wp.data.eq(Cat(nx, ny))]

    # visitor sums (ax, ay, rx, ry) at each ring position: lane l's ring terms subtracted, the x
    # sums shifted one position in each step's x cycle, the y sums in its y cycle; after the last
    # step position 0 is written to V and the ring shifted, K times (the point at position 0 is
    # then (R + f) mod K in flush cycle f); the last flush cycle clears the ring for the next block
    vs = [[Signal(rbw, name=f"ring_v{l}_{f}") for f in ("ax", "ay", "rx", "ry")] for l in range(K)]
    vmem = Memory(shape=4 * rbw, depth=2 * K, init=[])
    m.submodules.ringvmem = vmem
    v_wr, v_rd = vmem.write_port(), vmem.read_port()
    fcnt = Signal(range(K + 1))
    fpt, vpar = Signal(range(max(K, 2))), Signal()
    flush = Signal()
    m.d.comb += flush.eq(rlast | (fcnt != 0))
    fcur = Signal.like(fpt)
    m.d.comb += fcur.eq(Mux(rlast, R % K, fpt))

    def minus_term(base, nt, cin):
        """``base - (t + stk)`` (``base`` when not ``jv``) in one adder: ``base + ~t + ~stk``, the
        1-bit ``~stk`` as the carry into bit 1 of ``Cat(1, base) + Cat(~stk, ~t)``; ``nt`` = ``~t``
        and ``cin`` = ``~stk`` (all ones and 1 when not ``jv``) are the lane's registers (rbw bits)."""
        return (Cat(C(1, 1), base) + Cat(cin, nt))[1:rbw + 1]

    # every field takes the neighbour's sum minus the lane's operand (all ones and 1 outside a ring
    # term: the plain shift of a flush), so a field is one adder and a clock enable, with no
    # multiplexer (session 52: the multiplexers of the earlier form were ~1.1 LUT4 per bit)
    clear = Signal()
    m.d.comb += clear.eq(flush & Mux(rlast, K == 1, fcnt == 1))
    for l, ln in enumerate(lanes):
        v, src = vs[l], vs[(l + 1) % K]
        ta = (ln.tsne.jna, ln.tsne.jca)
        tr = (ln.tsne.jnr, ln.tsne.jcr)
        with m.If(clear):
            m.d.sync += [f.eq(0) for f in v]
        with m.Else():
            with m.If(rx | flush):
                m.d.sync += [v[0].eq(minus_term(src[0], *ta)), v[2].eq(minus_term(src[2], *tr))]
            with m.If(ry | flush):
                m.d.sync += [v[1].eq(minus_term(src[1], *ta)), v[3].eq(minus_term(src[3], *tr))]
    # rlast comes in the cycle after the last step's y term: that cycle is the first flush
    with m.If(flush):
        m.d.comb += [v_wr.addr.eq(Mux(vpar, K + fcur, fcur)), v_wr.en.eq(1), v_wr.data.eq(Cat(*vs[0]))]
        m.d.sync += [fpt.eq(Mux(fcur == K - 1, 0, fcur + 1)), fcnt.eq(Mux(rlast, K - 1, fcnt - 1))]
        with m.If(Mux(rlast, K == 1, fcnt == 1)):
            m.d.sync += vpar.eq(~vpar)
    with m.If(pop_rst):
        m.d.sync += vpar.eq(0)

    # the hand-over: lane 0's sums of point pout plus J[pout] (not in block 0) plus V, written one
    # cycle after the shift
    hpar = Signal()
    with m.If(shifting & (pop_k == K - 1)):
        m.d.sync += hpar.eq(~hpar)
    with m.If(pop_rst):
        m.d.sync += hpar.eq(0)
    m.d.comb += v_rd.addr.eq(Mux(hpar, K + pop_k, pop_k))
    hv, hp, h0 = Signal(), Signal.like(pout), Signal()
    held = [Signal(acc, name=f"jh_{f}") for f in ("ax", "ay", "rx", "ry")]
    m.d.sync += [hv.eq(shifting & pout_ok), hp.eq(pout), h0.eq(pop_base == 0),
                 *[h.eq(getattr(out0, f)) for h, f in zip(held, ("ax", "ay", "rx", "ry"))]]
    vq = [Signal(acc, name=f"jh_v{f}") for f in range(4)]     # sign-extended
    m.d.comb += [q.eq(v_rd.data[f * rbw:(f + 1) * rbw].as_signed()) for f, q in enumerate(vq)]

    def add3(a, b, c):
        """``a + b + c`` modulo 2^ab through a carry-save stage: one adder after a LUT level."""
        a, b, c = (x.as_unsigned()[:ab] for x in (a, b, c))
        return ((a ^ b ^ c) + Cat(C(0, 1), (a & b) | (a & c) | (b & c)))[:ab]
    for rp, wp, (hx, hy), (vx, vy) in zip(hand, (a_wr, r_wr), (held[:2], held[2:]), (vq[:2], vq[2:])):
        ox, oy = Signal(acc), Signal(acc)
        jx, jy = Mux(h0, 0, rp.data[:ab]), Mux(h0, 0, rp.data[ab:])
        m.d.comb += [rp.addr.eq(pout), ox.eq(add3(hx, jx, vx)), oy.eq(add3(hy, jy, vy)),
                     wp.addr.eq(hp), wp.en.eq(hv), wp.data.eq(Cat(ox, oy))]
    return j_first, j_next_block
