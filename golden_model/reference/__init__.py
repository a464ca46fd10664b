"""Float64 reference algorithm of AdapSNE and of the NMS baseline (one class at a time).

This package is the *specification in float* of what the accelerator computes.  The fixed-point
golden model (``golden_model.fixed*``, ``golden_model.search_fixed``) implements the same steps
bit for bit in the hardware's arithmetic; this package is what it is compared against.

Pipeline for one class of N integer feature vectors (see docs/algorithm.md):

1. :func:`sq_distances` -- exact integer squared Euclidean distances.
2. :func:`row_entropy_bits` -- entropy in bits of one conditional distribution with the
   row-minimum shift.
3. sigma search per row over ``u = log2(b)`` with ``b = beta * log2(e)``:
   :func:`search_bisection`, :func:`search_ksection`, :func:`search_fwa`.
4. :func:`conditional_p`, :func:`joint_p`.
5. :func:`tsne` -- exact 2-D t-SNE.
6. :func:`occupancy_entropy` and :func:`choose_perplexity` -- entropy-guided target perplexity.
7. :func:`grid_sample` -- exemplar selection in the embedding.

Every concrete choice (search brackets, FWA details, tie-breaks, clamps) is this project's own;
the source papers' settings are not available to us.

Modules, one concept each: :mod:`.distances` (1), :mod:`.sigma_search` (2-3), :mod:`.tsne_float`
(4-5), :mod:`.grid` (6-7, the entropy and the sampler), :mod:`.perplexity` (the per-class
embedding and the entropy-guided choice).  Everything is re-exported here, so
``from golden_model import reference as ref`` reaches every name.
"""

from __future__ import annotations

# the modules stay reachable as attributes (ref.sigma_search etc.) for tests that patch their internals
from . import distances, grid, perplexity, sigma_search, tsne_float  # noqa: F401
from .distances import (  # noqa: F401
    as_integer_features, sq_distances,
)
from .sigma_search import (  # noqa: F401
    LN2, DEFAULT_TOL, FWA_FLOAT_AMP_COVER, FWA_FLOAT_MIN_SHRINK, FWA_FLOAT_GAIN_UP,
    FWA_FLOAT_GAIN_DOWN, row_entropy_bits, row_entropy_bits_many, SearchResult,
    hardware_tolerance, search_bracket, point_rng, search_bisection, search_ksection,
    search_fwa, search_row, row_without_self, RowSearchStats, RowSearch, search_all_rows,
)
from .tsne_float import (  # noqa: F401
    MACHINE_EPSILON, conditional_p, joint_p, TSNEResult, tsne_learning_rate, kl_divergence,
    kl_gradient, tsne,
)
from .grid import (  # noqa: F401
    normalise_unit, grid_cells, occupancy_entropy, entropy_grid_side, GRID_SAMPLE_G_LIMIT,
    grid_sample,
)
from .perplexity import (  # noqa: F401
    perplexity_cap, effective_perplexity, ClassEmbedding, embed_class, PerplexityChoice,
    candidate_perplexities, choose_perplexity,
)

__all__ = [
    "DEFAULT_TOL", "SearchResult", "RowSearchStats", "TSNEResult", "ClassEmbedding",
    "PerplexityChoice", "as_integer_features", "sq_distances", "row_entropy_bits",
    "row_entropy_bits_many", "search_bracket", "search_bisection", "search_ksection",
    "search_fwa", "search_row", "search_all_rows", "hardware_tolerance", "conditional_p",
    "joint_p", "tsne", "tsne_learning_rate", "kl_divergence", "kl_gradient", "normalise_unit", "grid_cells",
    "occupancy_entropy", "entropy_grid_side", "grid_sample", "perplexity_cap",
    "candidate_perplexities", "effective_perplexity", "embed_class",
    "choose_perplexity", "row_without_self", "point_rng",
]
