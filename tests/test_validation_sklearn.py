"""Cross-checks of the float reference against scikit-learn's own t-SNE code.

* affinities: scikit-learn's ``_binary_search_perplexity`` / ``_joint_probabilities`` (natural-log
  entropy, self excluded, its own stop tolerance 1e-5 nats) versus our searches at 1e-5 *bits*
  (6.9e-6 nats, i.e. at least as tight).  The remaining difference is scikit-learn's own
  tolerance: measured max |dP_cond| ~ 6e-6 and max |dP_joint| ~ 2e-8 on a digits class.
* t-SNE: objective and gradient equal scikit-learn's ``_kl_divergence``; the optimiser schedule
  equals scikit-learn's ``_gradient_descent`` step for step over a short horizon (t-SNE is chaotic,
  so rounding differences grow over hundreds of iterations); the final KL after a full run is
  comparable to ``TSNE(method="exact").kl_divergence_``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import squareform
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE
from sklearn.manifold._t_sne import _gradient_descent, _joint_probabilities, _kl_divergence
from sklearn.manifold._utils import _binary_search_perplexity

from golden_model import reference as ref
from golden_model.config import PRESETS

CFG = PRESETS["digits"]


@pytest.fixture(scope="module")
def digits_class():
    X, y = load_digits(return_X_y=True)
    Xc = X[y == 1]  # 182 points, 64 features in 0..16
    return Xc, ref.sq_distances(Xc)


@pytest.mark.parametrize("perp,policy", [(5.0, "bisection"), (30.0, "bisection"),
                                         (30.0, "ksection"), (12.0, "fwa")])
def test_affinities_match_sklearn(digits_class, perp, policy):
    _, D = digits_class
    # digits distances are integers < 2**24, hence exact in scikit-learn's float32
    D32 = D.astype(np.float32)
    assert np.array_equal(D32.astype(np.int64), D)
    P_sk = _binary_search_perplexity(D32, perp, 0)
    Pj_sk = squareform(_joint_probabilities(D32, perp, 0))
    # FWA needs ~47 passes for 1e-5 bits with this config (see test_reference); lift its cap
    cfg = CFG.with_overrides(max_passes=200) if policy == "fwa" else CFG
    stats = ref.search_all_rows(D, perp, policy, cfg, tol=1e-5)
    assert stats.converged.all()
    Pc = ref.conditional_p(D, stats.betas)
    Pj = ref.joint_p(Pc)
    assert np.abs(Pc - P_sk).max() < 2e-5
    assert np.abs(Pj - Pj_sk).max() < 1e-7  # entries are ~1e-3; 1e-6 was the brief's bound


def test_kl_objective_and_gradient_match_sklearn(digits_class):
    _, D = digits_class
    P = ref.joint_p(ref.conditional_p(D, ref.search_all_rows(D, 30.0, "bisection", CFG).betas))
    n = P.shape[0]
    Y = np.random.default_rng(5).standard_normal((n, 2)) * 3.0
    kl_sk, g_sk = _kl_divergence(Y.ravel().copy(), squareform(P, checks=False), 1, n, 2)
    assert ref.kl_divergence(P, Y) == pytest.approx(kl_sk, rel=1e-10)
    np.testing.assert_allclose(ref.kl_gradient(P, Y), g_sk.reshape(n, 2), rtol=1e-9, atol=1e-15)


def test_tsne_schedule_matches_sklearn_gradient_descent(digits_class):
    """Same initialisation, float64: our loop reproduces scikit-learn's two-phase optimiser."""
    _, D = digits_class
    D = D[:60, :60]
    P = ref.joint_p(ref.conditional_p(D, ref.search_all_rows(D, 10.0, "bisection", CFG).betas))
    n = P.shape[0]
    Y0 = 1e-4 * np.random.default_rng(3).standard_normal((n, 2))
    n_early, n_total, lr = 10, 20, 50.0
    cfg = CFG.with_overrides(tsne_iters=n_total, tsne_exaggeration_iters=n_early)
    mine = ref.tsne(P, cfg, Y0=Y0, learning_rate=lr)
    Pc = squareform(P, checks=False)
    common = dict(n_iter_check=50, n_iter_without_progress=10**9, min_grad_norm=0.0,
                  learning_rate=lr, min_gain=cfg.tsne_min_gain, verbose=0)
    p, _, it = _gradient_descent(_kl_divergence, Y0.ravel().copy(), 0, n_early,
                                 momentum=cfg.tsne_momentum_early,
                                 args=[Pc * cfg.tsne_exaggeration, 1, n, 2], **common)
    p, _, it = _gradient_descent(_kl_divergence, p, it + 1, n_total,
                                 momentum=cfg.tsne_momentum_late, args=[Pc, 1, n, 2], **common)
    assert it == n_total - 1
    scale = np.abs(mine.Y).max()
    assert scale > 1.0  # the embedding really moved
    np.testing.assert_allclose(mine.Y, p.reshape(n, 2), rtol=0, atol=1e-9 * scale)


def test_final_kl_comparable_to_sklearn_tsne(digits_class):
    """Full 750-iteration run at perplexity 30 versus ``TSNE(method="exact")``.

    The initialisations differ (scikit-learn draws from ``RandomState``, float32), so the two runs
    end in different local optima; across our seeds 0..2 the KL spread is about +-7 % around
    scikit-learn's value on this class, hence the 15 % bound.
    """
    Xc, D = digits_class
    sk = TSNE(n_components=2, method="exact", init="random", random_state=0, perplexity=30.0,
              learning_rate=CFG.tsne_learning_rate, early_exaggeration=CFG.tsne_exaggeration,
              max_iter=CFG.tsne_iters).fit(Xc.astype(np.float64))
    P = ref.joint_p(ref.conditional_p(D, ref.search_all_rows(D, 30.0, "bisection", CFG).betas))
    mine = ref.tsne(P, CFG, seed=0)
    assert mine.kl == pytest.approx(sk.kl_divergence_, rel=0.15)
