"""Shared drawing rules: output formats, axis scales, labels beside a panel, bar widths.

The rules that keep a plot readable live here once: a log axis only where the values span more
than a decade; at most as many tick labels as fit the axis; point labels written in a column
beside the panel (one line each, joined to their points by leader lines), so that they cannot
collide however close the points are; bars wide enough for their rotated labels.
Sizes are in inches and points (1/72 in), as matplotlib takes them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from arch.errors import WorkloadError

#: Output formats, chosen by the file's extension.
FORMATS = (".png", ".svg", ".pdf")
#: Font size of tick labels and point labels (pt).
SMALL_PT = 7
#: Most bars in one panel; more are grouped into small multiples.
MAX_BARS = 48
#: Wrap width of a point label (characters).
WRAP_CHARS = 30
_CHAR_IN = 0.058  # width of one character at SMALL_PT (in), a generous mean
_LINE_IN = 0.135  # height of one line at SMALL_PT with its spacing (in)
DPI = 110
_NO_DATES = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}


def check_path(path, flag: str = "--plot") -> Path:
    """Refuse, before any work, a plot path whose folder is missing or whose extension is unknown.

    Raises
    ------
    WorkloadError
        One line naming the flag, the path and what is wrong.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in FORMATS:
        what = f"unknown extension {p.suffix!r}" if p.suffix else "no extension"
        raise WorkloadError(f"{flag} {path}: {what} (the format follows the extension: {', '.join(FORMATS)})")
    folder = p.parent
    if not folder.is_dir():
        raise WorkloadError(f"{flag} {path}: folder '{folder}' does not exist")
    return p


def sibling(path, view: str) -> Path:
    """``sweep.png`` -> ``sweep.<view>.png``: where a further view of the same sweep goes."""
    p = Path(path)
    return p.with_name(f"{p.stem}.{view}{p.suffix}")


def save(fig, path) -> Path:
    """Write ``fig`` in the format of the extension of ``path``; the same figure gives the same
    bytes (no creation dates in SVG or PDF)."""
    import matplotlib

    p = check_path(path)
    fmt = p.suffix[1:].lower()
    with matplotlib.rc_context({"svg.hashsalt": "einsim"}):  # SVG element ids from a fixed salt
        fig.savefig(p, format=fmt, dpi=DPI, metadata=_NO_DATES.get(fmt))
    return p


def new_figure(width_in: float, height_in: float):
    """A figure drawn off screen with the constrained layout engine."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def wrap(label: str) -> str:
    """A label broken into lines of at most :data:`WRAP_CHARS` characters, at spaces."""
    return "\n".join(textwrap.wrap(label, WRAP_CHARS)) or label


def fit_title(text: str, width_in: float, fontsize: float = 9) -> str:
    """``text`` broken at spaces into lines that fit a figure ``width_in`` wide at ``fontsize``."""
    chars = max(20, int(width_in / (_CHAR_IN * fontsize / SMALL_PT)))
    return "\n".join(textwrap.wrap(text, chars)) or text


def text_width_in(labels) -> float:
    """Width (in) of the widest wrapped label."""
    longest = max((len(line) for lab in labels for line in wrap(lab).split("\n")), default=1)
    return longest * _CHAR_IN + 0.3


def lines_of(labels) -> int:
    """Total wrapped lines of ``labels``."""
    return sum(wrap(lab).count("\n") + 1 for lab in labels)


def column_height_in(labels) -> float:
    """Height (in) a column of ``labels`` needs, one under the other."""
    return lines_of(labels) * _LINE_IN * 1.25 + 0.2


def bar_slot_in(labels) -> float:
    """Width (in) of one bar's slot, so that its label rotated by 90 degrees fits beside the next."""
    most = max((wrap(lab).count("\n") + 1 for lab in labels), default=1)
    return max(0.17, most * _LINE_IN + 0.04)


def scale_for(values) -> str:
    """``log`` where the positive finite values span more than a decade, else ``linear``."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if len(v) and (v > 0).all() and v.max() / v.min() > 10:
        return "log"
    return "linear"


def style_axis(ax, which: str, values, unit: str, length_in: float) -> None:
    """Scale, engineering-unit labels (``21.6 kJ``; plain numbers when ``unit`` is None) and a
    tick count that fits ``length_in`` on axis ``which`` (``x`` or ``y``) of ``ax``."""
    import matplotlib.ticker as mt

    scale = scale_for(values)
    (ax.set_xscale if which == "x" else ax.set_yscale)(scale)
    axis = ax.xaxis if which == "x" else ax.yaxis
    if unit is None:  # a unit that takes no SI prefix (mm^2): plain numbers, unit in the axis label
        axis.set_major_formatter(mt.FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        axis.set_major_formatter(mt.EngFormatter(unit=unit, places=None, sep=" "))
    if scale == "log":
        axis.set_major_locator(mt.LogLocator(base=10, numticks=max(2, int(length_in / 0.7))))
        axis.set_minor_formatter(mt.NullFormatter())
    else:
        axis.set_major_locator(mt.MaxNLocator(nbins=max(2, int(length_in / 0.9)), min_n_ticks=2))
    axis.set_tick_params(labelsize=SMALL_PT)


def label_column(ax, col, xs, ys, labels, colors) -> None:
    """Write ``labels`` one under the other in the blank axes ``col`` beside ``ax``, each joined
    to its point ``(xs[i], ys[i])`` of ``ax`` by a thin leader line.

    Labels are ordered by the points' height, so that leader lines do not cross needlessly;
    the caller sizes ``col`` with :func:`column_height_in`.
    """
    from matplotlib.patches import ConnectionPatch

    col.set_axis_off()
    col.set_xlim(0, 1)
    col.set_ylim(0, 1)
    if not len(labels):
        return
    order = sorted(range(len(labels)), key=lambda i: (-float(ys[i]), float(xs[i])))
    total = lines_of(labels)
    y, step = 1.0, 1.0 / max(total, 1)
    for i in order:
        text = wrap(labels[i])
        n = text.count("\n") + 1
        centre = y - step * n / 2
        col.text(0.08, centre, text, fontsize=SMALL_PT, va="center", ha="left", color=colors[i])
        line = ConnectionPatch((0.06, centre), (xs[i], ys[i]), coordsA=col.transAxes, coordsB=ax.transData,
                               color=colors[i], lw=0.5, alpha=0.7)
        line.set_in_layout(False)
        col.add_artist(line)
        y -= step * n


def group_colors(groups: dict) -> dict:
    """Value text -> colour: the ``tab10`` cycle, ``tab20`` past ten values, ``viridis`` past twenty."""
    import matplotlib

    names = list(groups)
    if len(names) <= 10:
        cmap = [matplotlib.colormaps["tab10"](k) for k in range(10)]
    elif len(names) <= 20:
        cmap = [matplotlib.colormaps["tab20"](k) for k in range(20)]
    else:
        cmap = [matplotlib.colormaps["viridis"](k / (len(names) - 1)) for k in range(len(names))]
    return {name: cmap[k] for k, name in enumerate(names)}


def chunks(groups: dict, size: int = MAX_BARS) -> list:
    """Split each group's indices into runs of at most ``size``: ``(title, indices)`` per panel."""
    out = []
    for name, idx in groups.items():
        parts = [idx[k:k + size] for k in range(0, len(idx), size)]
        for n, part in enumerate(parts):
            suffix = f" ({n + 1}/{len(parts)})" if len(parts) > 1 else ""
            out.append((name + suffix, part))
    return out
