"""Port layouts and derived datapath widths of the AdapSNE core.

Everything the testbenches need to decode the top-level ports lives here, computed from the one
`AccelConfig`:

* `StatusLayout` -- ``{"busy": 1, "done": 1, "error": 1, "error_code": 4}`` (LSB first).
* `CoreLayouts(cfg).result` -- ``{"index", "u", "h", "passes", "converged"}`` (LSB first).
* `CoreLayouts(cfg).trace` -- one beat per lane per pass when the core is built with ``trace=True``.
* `CoreLayouts(cfg).offsets(layout)` -- ``{field: (offset, width, signed)}``.

Width choices (documented in docs/hardware.md):

``u_bits``
    Signed width of a candidate ``u`` (``u_frac`` fraction bits).  The search range is
    ``[u_lo, u_hi]`` with ``u_lo >= -(dist_bits + 2) 2^U`` (``fixed.search_range``) and
    ``u_hi = cfg.u_hi``, so ``u_bits = bitlen(max(-u_lo_min, u_hi)) + 1``.
``h_bits``
    Unsigned width of an entropy ``H`` (``h_frac`` fraction bits).  ``Z >= 2^W`` so
    ``e = p - W >= 0`` and ``e <= z_bits - 1 - W``; ``T <= (W + 1) Z`` bounds
    ``T/Z <= (W + 1) 2^(Hf + 1)`` LSBs, hence ``H < (e_max + 1) 2^Hf + (W + 1) 2^(Hf + 1)``.
``err_bits``
    Width of ``|H - target|`` (covers both ``H`` and the target ``log2 Perp``).
"""

from __future__ import annotations

from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data

from golden_model.config import AccelConfig, bit_length

from .regmap import COMMANDS, ERROR_CODES, POLICY_CODES, REGISTERS  # noqa: F401

__all__ = ["StatusLayout", "CoreLayouts", "ERROR_CODES", "REGISTERS", "COMMANDS", "POLICY_CODES",
           "field_offsets"]

StatusLayout = data.StructLayout({"busy": 1, "done": 1, "error": 1, "error_code": 4})

# The control interface (registers, commands, policies, error codes) is defined in hw.regmap;
# re-exported here for existing importers.


def field_offsets(layout: data.StructLayout) -> dict:
    """``{field: (offset, width, signed)}`` of a struct layout."""
    out = {}
    for name, fld in layout:
        s = Shape.cast(fld.shape)
        out[name] = (fld.offset, s.width, s.signed)
    return out


class CoreLayouts:
    """Derived widths and port layouts for one configuration.

    Parameters
    ----------
    cfg : AccelConfig
    """

    def __init__(self, cfg: AccelConfig):
        self.cfg = cfg

    # ---------------------------------------------------------------- search-variable widths
    @property
    def u_lo_min(self) -> int:
        """Lowest possible lower search bound (row max with dist_bits bits)."""
        return -((self.cfg.dist_bits + 2) << self.cfg.u_frac)

    @property
    def u_range_max(self) -> int:
        """Largest possible bracket width u_hi - u_lo."""
        return self.cfg.u_hi - self.u_lo_min

    @property
    def u_range_bits(self) -> int:
        return bit_length(self.u_range_max)

    @property
    def u_bits(self) -> int:
        return bit_length(max(-self.u_lo_min, self.cfg.u_hi)) + 1

    # ---------------------------------------------------------------- entropy widths
    @property
    def e_max(self) -> int:
        return self.cfg.z_bits - 1 - self.cfg.w_frac

    @property
    def h_max(self) -> int:
        c = self.cfg
        return ((self.e_max + 1) << c.h_frac) + ((c.w_frac + 1) << (c.h_frac + 1))

    @property
    def h_bits(self) -> int:
        return bit_length(self.h_max)

    @property
    def target_bits(self) -> int:
        """log2(PERP) < count_bits (integer part) -> unsigned width."""
        return bit_length(self.cfg.count_bits << self.cfg.h_frac)

    @property
    def err_bits(self) -> int:
        return max(self.h_bits, self.target_bits)

    # ---------------------------------------------------------------- kernel widths
    @property
    def t_limit(self) -> int:
        """Saturation value (W+1) << T of the exponent argument."""
        return (self.cfg.w_frac + 1) << self.cfg.t_frac

    @property
    def t_bits(self) -> int:
        return bit_length(self.t_limit)

    # ---------------------------------------------------------------- layouts
    @property
    def result(self) -> data.StructLayout:
        c = self.cfg
        return data.StructLayout({
            "index": unsigned(c.index_bits),
            "u": signed(self.u_bits),
            "h": unsigned(self.h_bits),
            "passes": unsigned(8),
            "converged": unsigned(1),
        })

    @property
    def trace(self) -> data.StructLayout:
        c = self.cfg
        return data.StructLayout({
            "u": signed(self.u_bits),
            "z": unsigned(c.z_bits),
            "t": unsigned(c.z_bits),
            "h": unsigned(self.h_bits),
            "lane": unsigned(c.lane_bits),
            "pass_index": unsigned(8),
            "index": unsigned(c.index_bits),
        })

    @property
    def status(self) -> data.StructLayout:
        return StatusLayout

    def offsets(self, layout: data.StructLayout) -> dict:
        return field_offsets(layout)

    def describe(self) -> dict:
        """JSON-friendly summary (used by hw.generate for adapsne_core.json)."""
        return {
            "u_bits": self.u_bits,
            "h_bits": self.h_bits,
            "err_bits": self.err_bits,
            "t_bits": self.t_bits,
            "status": {k: list(v) for k, v in field_offsets(StatusLayout).items()},
            "result": {k: list(v) for k, v in field_offsets(self.result).items()},
            "trace": {k: list(v) for k, v in field_offsets(self.trace).items()},
            "result_width": self.result.size,
            "trace_width": self.trace.size,
            "status_width": StatusLayout.size,
        }
