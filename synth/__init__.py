"""Synthesis, area and timing reports of the AdapSNE core with the pinned YoWASP tools.

Commands (see docs/synthesis.md):

* ``python -m synth.report --preset P [--set k=v ...]``: generic synthesis, CMOS estimate, FPGA
  mapping, place and route on real boards, per-block breakdown -> ``reports/synth/P.{json,md}``;
* ``python -m synth.compare REPORT.json``: compare a report with ``synth/baselines/<preset>.json``;
* ``python -m synth.sweep``: lane-count and table-size sweep, plot, largest K per device;
* ``python -m synth.speed``: accelerator cycles / fmax versus the float64 reference and sklearn;
* ``python -m synth.readme_table``: the README summary table (``reports/synth/summary.md``);
* ``python -m synth.board``: build the harnessed core for a real board with amaranth-boards.
"""
