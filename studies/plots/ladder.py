"""The FuseMax ablation ladder: speedup over FLAT, 2D utilization and energy against FLAT per
sequence length, one line per configuration of the ladder (means over the models present)."""

from __future__ import annotations

import numpy as np

from studies.plots.layout import save


def ladder_figure(records, scope: str = "attention"):
    """The FuseMax ablation ladder: speedup over FLAT, 2D utilization and energy against FLAT,
    per sequence length, one line per configuration (means over the models present).

    ``records`` are the FuseMax study's (:mod:`studies.fusemax`): ``config``, ``model``,
    ``seq_len``, ``scope``, ``seconds``, ``energy_pj``, ``utilization`` (``2d``).
    """
    import matplotlib.ticker
    from matplotlib.figure import Figure

    recs = [r for r in records if r and r.get("scope", scope) == scope]
    configs = list(dict.fromkeys(r["config"] for r in recs))
    lens = list(dict.fromkeys(r["seq_len"] for r in recs))
    by = {(r["config"], r["model"], r["seq_len"]): r for r in recs}
    models = list(dict.fromkeys(r["model"] for r in recs))

    def mean_ratio(cfg, n, key):
        vals = []
        for m in models:
            a, b = by.get((cfg, m, n)), by.get(("flat", m, n))
            if a and b:
                vals.append(b[key] / a[key] if key == "seconds" else a[key] / b[key])
        return float(np.mean(vals)) if vals else np.nan

    fig = Figure(figsize=(13, 3.8))
    axes = fig.subplots(1, 3)
    x = np.arange(len(lens))
    for cfg in configs:
        axes[0].plot(x, [mean_ratio(cfg, n, "seconds") for n in lens], "o-", label=cfg)
        util = [np.mean([by[(cfg, m, n)]["utilization"].get("2d", np.nan) for m in models if (cfg, m, n) in by]) for n in lens]
        axes[1].plot(x, util, "o-", label=cfg)
        axes[2].plot(x, [mean_ratio(cfg, n, "energy_pj") for n in lens], "o-", label=cfg)
    titles = ("speedup over FLAT", "2D array utilization", "energy relative to FLAT")
    for ax, title in zip(axes, titles):
        ax.set_xticks(x, lens)
        ax.set_xlabel("sequence length")
        ax.set_title(f"{title}\n({scope}, mean over {', '.join(models)})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    axes[0].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[0].set_yticks([0.5, 1, 2, 4, 8])
    axes[1].set_ylim(0, 1.05)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_ladder(records, path, scope: str = "attention"):
    """Write :func:`ladder_figure` to ``path`` (format by extension: .png, .svg, .pdf)."""
    return save(ladder_figure(records, scope), path)
