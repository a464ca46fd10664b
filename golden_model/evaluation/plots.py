"""The report's figures: H(u) near the solution and the per-class embeddings with their exemplars."""

from __future__ import annotations

import math

import numpy as np

from .. import reference as ref
from .search_study import saw_key
from .settings import Settings


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sawtooth(saw: dict, path: str, s: Settings, tol_bits=(4, 8), zoom_lsb=40) -> None:
    plt = _mpl()
    fig, axes = plt.subplots(2, 3, figsize=(17, 8), sharey=False,
                             gridspec_kw={"width_ratios": [1, 1, 0.8]})
    target = math.log2(s.sq_perplexity)
    styles = {(4, False): ("tab:red", "-"), (8, False): ("tab:blue", "-"), (8, True): ("tab:green", "--")}
    for r, (name, c) in enumerate(saw["curves"].items()):
        u = np.asarray(c["u"])
        for col, shift in enumerate((True, False)):
            ax = axes[r, col]
            ax.plot(u, c["float64"], color="k", lw=2.0, label="float64", zorder=5)
            for (tb, interp), (color, ls) in styles.items():
                H = c["fixed"][saw_key(tb, interp, shift)]["H"]
                ax.plot(u, H, color=color, ls=ls, lw=1.0, drawstyle="steps-post",
                        label=f"{tb}-bit tables, {'interp' if interp else 'no interp'}")
            ax.axhline(target, color="0.3", lw=0.8)
            for tb, a in zip(tol_bits, (0.10, 0.25)):
                ax.axhspan(target - 2.0 ** -tb, target + 2.0 ** -tb, color="orange", alpha=a, lw=0)
            ax.axvline(c["u_star"], color="0.5", ls=":", lw=0.8)
            ax.set_title(f"class {c['class']} point {c['point']} ({name}, nearest-neighbour D={c['nn_dist']}), "
                         f"row-min shift {'on' if shift else 'OFF'}", fontsize=9)
            ax.set_xlabel("u = log2(b)   (b = beta log2 e)")
            ax.set_ylabel("H (bits)")
            if r == 0 and col == 0:
                ax.legend(fontsize=8, loc="upper right")
        # zoom on the non-monotone wiggles of the study-only no-shift variant
        ax = axes[r, 2]
        n0 = len(u) // 2
        z = slice(max(0, n0 - zoom_lsb), n0 + zoom_lsb + 1)
        x = np.arange(len(u))[z] - n0  # u LSBs from the grid point nearest u*
        ax.plot(x, np.asarray(c["float64"])[z], color="k", lw=2.0, label="float64")
        for tb, interp in ((8, False), (8, True)):
            color, ls = styles[(tb, interp)]
            H = np.asarray(c["fixed"][saw_key(tb, interp, False)]["H"])
            ax.plot(x, H[z], color=color, ls=ls, lw=1.0, drawstyle="steps-post", marker=".", ms=2,
                    label=f"{tb}-bit, {'interp' if interp else 'no interp'}, shift OFF")
        H = np.asarray(c["fixed"][saw_key(8, True, True)]["H"])
        ax.plot(x, H[z], color="0.5", ls=":", lw=1.0, drawstyle="steps-post",
                label="8-bit, interp, shift on")
        ax.set_title(f"zoom ±{zoom_lsb} u LSB around u*: shift OFF vs on", fontsize=9)
        ax.set_xlabel("u - u*  (u LSBs of 2^-12)")
        ax.set_ylabel("H (bits)")
        if r == 0:
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"Row entropy H(u) near the solution, perplexity {s.sq_perplexity:g}: float64 vs table arithmetic "
                 f"(bands: tolerance 2^-4 and 2^-8 around log2 Perp; one step = 1 u LSB = 2^-12)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=s.dpi)
    plt.close(fig)


def _grid_side(Yn: np.ndarray, k: int) -> int:
    for g in range(1, ref.GRID_SAMPLE_G_LIMIT + 1):
        if np.unique(ref.grid_cells(Yn, g)[2]).size >= k:
            return g
    return ref.GRID_SAMPLE_G_LIMIT


def plot_embeddings(emb: dict, selections: dict, path: str, s: Settings, summaries: dict) -> None:
    """Rows: AdapSNE (float) and NMS for classes 0-4, then for classes 5-9; exemplars at
    `embed_ratio` (seed 0) marked, with the sampler's grid."""
    plt = _mpl()
    methods = [m for m in ("adapsne_float", "nms") if m in emb]
    classes = sorted(emb[methods[0]])
    ncol = min(5, len(classes))
    nblk = math.ceil(len(classes) / ncol)
    fig, axes = plt.subplots(nblk * len(methods), ncol, figsize=(2.6 * ncol, 2.7 * nblk * len(methods)),
                             squeeze=False)
    r = s.embed_ratio
    for b in range(nblk):
        for mi, m in enumerate(methods):
            for j in range(ncol):
                ax = axes[b * len(methods) + mi, j]
                ci = b * ncol + j
                ax.set_xticks([])
                ax.set_yticks([])
                if ci >= len(classes):
                    ax.axis("off")
                    continue
                c = classes[ci]
                e = emb[m][c]
                Yn = ref.normalise_unit(e["Y"])
                chosen = set(selections[(m, r, s.seeds[0])].tolist())
                mask = np.array([g in chosen for g in e["class_index"]])
                k = int(mask.sum())
                g = _grid_side(Yn, k)
                for t in np.linspace(0, 1, g + 1):
                    ax.axvline(t, color="0.88", lw=0.5, zorder=0)
                    ax.axhline(t, color="0.88", lw=0.5, zorder=0)
                ax.scatter(Yn[~mask, 0], Yn[~mask, 1], s=6, c="tab:blue", alpha=0.6, lw=0)
                ax.scatter(Yn[mask, 0], Yn[mask, 1], s=40, c="red", marker="x", lw=1.5)
                perp = summaries[m][str(s.seeds[0])]["perplexity"][c]
                name = "AdapSNE" if m == "adapsne_float" else "NMS"
                ax.set_title(f"{name}, digit {c}: perp {perp:g}, k={k}, grid {g}x{g}", fontsize=8)
                ax.set_xlim(-0.03, 1.03)
                ax.set_ylim(-0.03, 1.03)
    fig.suptitle(f"Per-class t-SNE embeddings (normalised to [0,1]^2, seed {s.seeds[0]}) with the "
                 f"{int(round(r * 100))} % exemplars (red x) and the grid-sampling grid", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=s.dpi)
    plt.close(fig)
