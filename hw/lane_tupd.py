"""The t-SNE update op ``tupd``: one point's gradient, gains, velocity and position on an update
slice's multipliers TU0 .. TU7 (`timing.TUPD_MULTIPLIER`; a copy of each per coordinate), bit-exact with
`golden_model.tsne_fixed.update` and the gradient of `tsne_fixed.forces`:

``g  = sat(floor(A ca / 2^kn) - floor(R rz / 2^kz))``   (``kn = pn + W - 1``, ``kz = pz + W - Q - 2``,
                                                       left shift when negative; 0 when Zq = 0)
``G' = clip(G + inc if sign(g) != sign(v) else floor(G dec / 2^gain_frac))``
``v' = sat(floor(mom v / 2^coef_frac) - floor(lr G' g / 2^(coef_frac + gain_frac + grad_frac - y_frac)))``
``y' = sat(y + v')``

Every product is exact: its operands are cut into chunks (`timing.TUPD_MULS`: 31-bit chunks of the
signed operand, the top one signed; `SPLIT`-bit chunks of the unsigned one), one chunk pair per
stage on its multiplier, and the shifted partial products are summed in a chain of registers.  The
stage plan is the op table's; each intermediate is a register written in the stage that computes
it and read at most ``pair_interval("tupd")`` stages later (the next point on the slice overwrites
it then), with copy registers every ``pair_interval`` stages where a value lives longer.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import C, Cat, Mux, Signal, signed

from golden_model import timing
from golden_model import tsne_fixed as tf

__all__ = ["TupdLaneMixin", "A_CHUNK", "repulsion_shift_bias"]

A_CHUNK = 31    # unsigned low chunks of the TM's signed operand (>= 32 bits: `TsneWidths.aw`)


def repulsion_shift_bias(q_frac: int) -> int:
    """``B = q_frac + 2``: the repulsion's shift is ``kz = pz + W - B`` (``4 / Zq`` in ``Q``
    fractional bits); when negative it is a left shift by ``kzl = B - W - pz <= B``, which the
    update's shared shifter does as ``(R rz << B) >> (B - kzl)``.  The t-SNE engine computes
    ``kzr`` / ``kzl`` from the same bias."""
    return q_frac + 2


def a_chunks(x, n: int):
    """``n`` chunks of ``x`` for the TM's signed operand: ``[(chunk, shift)]``, exact sum."""
    w = len(x)
    top = w - A_CHUNK * (n - 1)
    signed_x = x.shape().signed
    assert 0 < top <= A_CHUNK + (1 if signed_x else 0), f"operand of {w} bits does not fit {n} chunks"
    out = []
    for k in range(n):
        c = x[A_CHUNK * k: w if k == n - 1 else A_CHUNK * (k + 1)]
        out.append((c.as_signed() if (k == n - 1 and signed_x) else c, A_CHUNK * k))
    return out


def b_chunks(y, n: int, bw: int):
    """``n`` unsigned chunks of ``y`` (unsigned) for the TM's ``bw``-bit operand."""
    assert not y.shape().signed and len(y) <= n * bw, f"operand of {len(y)} bits does not fit {n} x {bw}"
    return [(y[bw * k: min(len(y), bw * (k + 1))], bw * k) for k in range(n)]


def _sat(x, lim):
    return Mux(x > lim, lim, Mux(x < -lim, -lim, x))


class TupdLaneMixin:
    """Mixed into `hw.tsne_update.UpdateSlice`."""

    def _elaborate_tupd(self, m, v, tms):
        """Build ``tupd`` on ``tms[c][k]`` (coordinate ``c``'s copy of update multiplier TU<k>);
        returns the operand drives per resource ``{"tu<k>_in": {("tupd", stage): [...]}}``."""
        from .lane_tsne import TsneWidths
        cfg = self.cfg
        tw = TsneWidths(cfg)
        W, Q, CF, GnF, GF, YF = cfg.w_frac, cfg.q_frac, cfg.coef_frac, cfg.gain_frac, cfg.grad_frac, cfg.y_frac
        u, t = self.tsne.upd, self.tsne
        vu = v["tupd"]
        II = timing.pair_interval("tupd")
        mk = dict(timing.LANE_OPS["tupd"].marks)
        co = tf.Coefs.of(cfg)
        ylim, glim = tf.y_limit(cfg), tf.grad_limit(cfg)
        ush = CF + GnF + GF - YF
        assert ush >= 0, "the step shift coef_frac + gain_frac + grad_frac - y_frac must be >= 0"
        MP = len(timing.TM0)        # operand register, partials, sum: the product is read MP stages later

        def reg(shape, name, stage, value):
            """A register written in ``stage`` (when a ``tupd`` is there)."""
            r = Signal(shape, name=name)
            with m.If(vu[stage]):
                m.d.sync += r.eq(value)
            return r, stage

        copies = {}

        def at(held, stage):
            """``held = (register, written stage)`` as read in ``stage``: copies every II stages
            (the next point overwrites a register II stages after this one wrote it), each copy
            built once."""
            sig, w = held
            assert stage > w
            chain = copies.setdefault(id(sig), [sig])
            k = 0
            while stage > w + II:
                if len(chain) == k + 1:
                    chain.append(reg(sig.shape(), f"{sig.name}_c{k}", w + II, chain[k])[0])
                k, w = k + 1, w + II
            return chain[k]

        drives = {}
        outs = []
        for c in range(2):
            A, R = reg(signed(tw.accb), f"u{c}_A", 0, (u.a0, u.a1)[c]), reg(signed(tw.accb), f"u{c}_R", 0, (u.r0, u.r1)[c])
            Y, V = reg(signed(tw.yb), f"u{c}_Y", 0, (u.y0, u.y1)[c]), reg(signed(tw.yb), f"u{c}_V", 0, (u.v0, u.v1)[c])
            G = reg(tw.gainb, f"u{c}_G", 0, (u.g0, u.g1)[c])

            def const(x):
                return lambda stage: x

            def held(h):
                return lambda stage: at(h, stage)

            def mul(name, a, b):
                """Issue the chunk products of ``a b`` (``a``, ``b``: the operand as read in a
                stage) in the stages of `TUPD_MULS`, each on its multiplier
                (`timing.TUPD_MULTIPLIER`); the partial products of each issue stage added to the
                chain's last sum in a register of their own.  Returns the product (held)."""
                chunks = [(k, st) for nm, k, st in timing.TUPD_CHUNKS if nm == name]
                (_, na, nb, _, _), = [x for x in timing.TUPD_MULS if x[0] == name]
                la, lb = len(a(chunks[0][1])), len(b(chunks[0][1]))
                idx = [(ia, ib) for ia in range(na) for ib in range(nb)]
                acc, parts = None, {}
                for k, st in chunks:
                    ia, ib = idx[k]
                    ca, ka = a_chunks(a(st), na)[ia]
                    cb, kb = b_chunks(b(st), nb, tw.bw)[ib]
                    mi = timing.TUPD_MULTIPLIER[name, k]
                    ta, tb, ten, prod = tms[c][mi]
                    drives.setdefault(timing.tu(mi)[0], {}).setdefault(("tupd", st), []).extend(
                        [ten.eq(1), ta.eq(ca), tb.eq(cb)])
                    parts.setdefault(st, []).append((prod, ka + kb))
                for g, st in enumerate(sorted(parts)):
                    nxt = Signal(signed(la + lb + 1), name=f"u{c}_{name}{g}")
                    ps = parts[st]
                    lo = min(sh for _, sh in ps) if acc is not None else 0
                    # the sum's low `lo` bits are acc's (no partial reaches them): a shorter carry chain
                    terms = ([acc[lo:].as_signed()] if acc is not None else []) + [p << (sh - lo) for p, sh in ps]
                    total = sum(terms[1:], terms[0])
                    with m.If(vu[st + MP]):
                        m.d.sync += nxt.eq(Cat(acc[:lo], total) if lo else total)
                    acc = nxt
                return acc, max(parts) + MP

            acc_a = mul("aca", held(A), const(u.ca))
            acc_r = mul("rrz", held(R), const(u.rz))
            acc_m = mul("vmom", held(V), const(u.mom))
            acc_d = mul("gdec", held(G), const(C(co.gain_dec, GnF + 1)))
            # the gradient terms ``ga = A ca >> kn`` in stage ga and ``gr = R rz >> kzr`` (or ``<<
            # kzl``, done as ``(R rz << LZ) >> (LZ - kzl)``, exact as kzl <= LZ) in stage gr, each
            # in two stages (a coarse shift by the amount's high bits into a register in the stage
            # before the mark, then the low bits: a ~140-bit barrel shifter in one stage was the
            # update's longest path); one shifter for both or one each (below).
            LZ = repulsion_shift_bias(Q)
            ca_s, cr_s = mk["ga"] - 1, mk["gr"] - 1            # coarse stages
            pa, pr = at(acc_a, ca_s), at(acc_r, cr_s)
            # gr's shift, registered: kneg, kzl, kzr hold for the whole update (set before it starts)
            sh_gr = Signal(range(max(2 ** len(u.kn), 2 ** len(u.kzr), LZ + 1)), name=f"u{c}_shgr")
            m.d.sync += sh_gr.eq(Mux(u.kneg, LZ - u.kzl, u.kzr))
            pr_l = Mux(u.kneg, pr << LZ, pr)

            def shifter(tag, stages, value, amount):
                """Two-stage right shift, its coarse register written in any of ``stages``."""
                sh_in = Signal(signed(max(len(pa), len(pr) + LZ) + 1), name=f"u{c}_shin{tag}")
                sh_n = Signal.like(sh_gr, name=f"u{c}_shn{tag}")
                m.d.comb += [sh_in.eq(value), sh_n.eq(amount)]
                FB = max(1, len(sh_n) // 2)                         # fine shift bits
                coarse = Signal.like(sh_in, name=f"u{c}_shc{tag}")
                fine = Signal(FB, name=f"u{c}_shf{tag}")
                with m.If(reduce(operator.or_, (vu[s] for s in stages))):
                    m.d.sync += [coarse.eq(sh_in >> (sh_n >> FB << FB)), fine.eq(sh_n[:FB])]
                return coarse >> fine

            # a slice takes a point every P cycles: one shifter writes its coarse register twice
            # per point, in distinct cycles unless the two coarse stages are a multiple of P apart
            P = cfg.tsne_update_slices * timing.tsne_update_interval(cfg.tsne_update_slices)
            if (cr_s - ca_s) % P:
                in_gr = vu[cr_s]
                shifted_a = shifted_r = shifter("", (ca_s, cr_s), Mux(in_gr, pr_l, pa), Mux(in_gr, sh_gr, u.kn))
            else:
                shifted_a = shifter("a", (ca_s,), pa, u.kn)
                shifted_r = shifter("r", (cr_s,), pr_l, sh_gr)
            ga = reg(signed(len(acc_a[0])), f"u{c}_ga", mk["ga"], shifted_a)
            gr = reg(signed(len(pr) + LZ), f"u{c}_gr", mk["gr"], Mux(u.zq0, 0, shifted_r))
            # g = sat(ga - gr): the two bounds as subtractions beside the difference (ga - glim - 1
            # and ga + glim registered in a stage between ga and grad), not a compare after it
            s_b = mk["ga"] + 1
            assert s_b < mk["grad"], mk
            gw = max(len(ga[0]), len(gr[0])) + 3
            ga_b = at(ga, s_b)
            ga_hi = reg(signed(gw), f"u{c}_gahi", s_b, ga_b - (glim + 1))
            ga_lo = reg(signed(gw), f"u{c}_galo", s_b, ga_b + glim)
            s_g = mk["grad"]
            gr_g, ga_g = at(gr, s_g), at(ga, s_g)
            over, under = (at(ga_hi, s_g) - gr_g) >= 0, (at(ga_lo, s_g) - gr_g) < 0
            g = reg(signed(tw.gb), f"u{c}_g", s_g, Mux(over, glim, Mux(under, -glim, ga_g - gr_g)))

            def clip(x):
                return Mux(x < co.gain_min, co.gain_min, Mux(x > co.gain_max, co.gain_max, x))
            # the new gain in the stage after g's, where gpg's first product takes it unregistered:
            # both candidates clipped before (clip of the choice = the choice of the clips), chosen
            # by the signs of v and of g = sat(ga - gr) (the sign of ga - gr: the sign bit and a
            # zero test of the g register, not a wide compare of ga and gr)
            s = mk["gain"]
            assert s == s_g + 1 == mk["gpg"], mk
            G_inc = reg(tw.gainb, f"u{c}_Ginc", s - 1, clip(at(G, s - 1) + co.gain_inc))
            G_dec = reg(tw.gainb, f"u{c}_Gdec", s - 1, clip(at(acc_d, s - 1) >> GnF))
            Vg, gg = at(V, s), at(g, s)
            inc = ((Vg > 0) & (gg < 0)) | ((Vg < 0) & (gg > 0))
            gn_now = Signal(tw.gainb, name=f"u{c}_Gnew")
            m.d.comb += gn_now.eq(Mux(inc, at(G_inc, s), at(G_dec, s)))
            Gn = reg(tw.gainb, f"u{c}_Gn", s, gn_now)
            # gpg's products: G' from the multiplexer in stage s (its first), from Gn after it
            acc_t = mul("gpg", held(g), lambda stage: gn_now if stage == s else at(Gn, stage))
            acc_s = mul("tlr", held(acc_t), const(u.lr))
            # |step| >= 2^yb saturates v' whatever the momentum term (|mv| <= ylim < 2^(yb-1)):
            # the step is kept clamped to +-2^yb (yb + 2 bits)
            sc = 1 << tw.yb
            stf = at(acc_s, mk["step"]) >> ush
            step = reg(signed(tw.yb + 2), f"u{c}_step", mk["step"], Mux(stf > sc, sc, Mux(stf < -sc, -sc, stf)))
            # the momentum term, shifted as soon as it is there and kept (narrower) until vel
            s_mv = acc_m[1] + 1
            mv = reg(signed(tw.yb + 1), f"u{c}_mv", s_mv, at(acc_m, s_mv) >> CF)
            Vn = reg(signed(tw.yb), f"u{c}_Vn", mk["vel"], _sat(at(mv, mk["vel"]) - at(step, mk["vel"]), ylim))
            Yn = reg(signed(tw.yb), f"u{c}_Yn", mk["pos"], _sat(at(Y, mk["pos"]) + at(Vn, mk["pos"]), ylim))
            L = timing.latency("tupd")
            outs.append((at(Yn, L), at(Vn, L), at(Gn, L)))
        m.d.comb += [t.uy0.eq(outs[0][0]), t.uy1.eq(outs[1][0]), t.uv0.eq(outs[0][1]), t.uv1.eq(outs[1][1]),
                     t.ug0.eq(outs[0][2]), t.ug1.eq(outs[1][2])]
        return drives
