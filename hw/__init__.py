"""RTL generator of the AdapSNE sigma-search core (Amaranth 0.5); see docs/hardware.md.

Entry points: `hw.top.AdapSNECore`, `hw.generate` (``python -m hw.generate``),
`hw.layouts.CoreLayouts` (port layouts for testbenches), `hw.blocks.synthesis_blocks`.
"""
