"""Plots: labels name what a sweep varies, axes fit their data, and nothing written overlaps.

Overlap is measured the way a reader meets it: each figure is rendered with matplotlib's Agg
renderer and the window extents of every drawn tick label and every other text (point labels,
titles, legends) are compared pairwise; two that intersect fail the test.
"""

import itertools
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from studies import cli
from studies.plots import Swept, check_path, pareto_front, sibling, sweep_figure
from studies.plots.layout import MAX_BARS, scale_for
from studies.plots.roofline import roofline_figure, roofline_of
from studies.plots.timeline import _busy_until, _merge, read_trace, timeline_figure, windows
from studies.plots.views import point_params
from studies.sweep import evaluate_point, expand


# ----------------------------------------------------------------------------- overlap check

def _drawn_texts(fig):
    """Every text the renderer drew: in-view tick labels, and all other visible, non-empty texts."""
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ticks, tick_ids = [], set()
    for ax in fig.get_axes():
        drawn = ax.get_visible() and ax.axison
        for axis in (ax.xaxis, ax.yaxis):
            for which in ("major", "minor"):
                labels = axis.get_ticklabels(which=which)
                locs = axis.get_minorticklocs() if which == "minor" else axis.get_majorticklocs()
                tick_ids.update(id(t) for t in labels)
                lo, hi = sorted(axis.get_view_interval())
                span = (hi - lo) or 1.0
                for loc, t in zip(locs, labels):
                    if drawn and axis.get_visible() and t.get_visible() and t.get_text() and lo - 1e-9 * span <= loc <= hi + 1e-9 * span:
                        ticks.append(t)
    others = [t for t in fig.findobj(Text) if id(t) not in tick_ids and t.get_visible() and t.get_text().strip()]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ticks + others]


def _overlaps(fig):
    """Pairs of drawn texts whose extents intersect (by more than a pixel each way), and texts
    that reach past the figure's edge (cut off when saved)."""
    texts = [(t, b) for t, b in _drawn_texts(fig) if b.width > 0 and b.height > 0]
    if not texts:
        return []
    w, h = fig.bbox.width, fig.bbox.height
    outside = [("outside the figure", t) for t, b in texts if b.x0 < -1 or b.y0 < -1 or b.x1 > w + 1 or b.y1 > h + 1]
    box = np.array([[b.x0, b.y0, b.x1, b.y1] for _, b in texts])
    wide = np.minimum(box[:, None, 2], box[None, :, 2]) - np.maximum(box[:, None, 0], box[None, :, 0])
    high = np.minimum(box[:, None, 3], box[None, :, 3]) - np.maximum(box[:, None, 1], box[None, :, 1])
    hit = np.triu((wide > 1) & (high > 1), k=1)
    return outside + [(texts[i][0], texts[j][0]) for i, j in zip(*np.nonzero(hit))]


# ----------------------------------------------------------------------------- awkward data

def _records(n, *, narrow=False, long=False, seed=0):
    """``n`` synthetic FuseMax attention records on a pe_dim x glb_mb grid, and their parameters."""
    rng = np.random.default_rng(seed)
    dims = [16, 32, 64, 128, 256, 512, 24, 48, 96, 192]
    recs, params = [], []
    for i in range(n):
        pe, glb = dims[i % len(dims)], 2 + i // len(dims)
        cycles = int((2.16e7 + 1.2e6 * rng.random()) if narrow else 10 ** rng.uniform(5, 9))
        p = {"arch": "fusemax", "workload": "attention", "pe_dim": str(pe), "glb_mb": str(glb), "model": "xlm"}
        if long:
            p["a_rather_long_parameter_name_for_buffers"] = f"configuration_value_number_{i}_with_suffix"
        recs.append({
            "arch": "fusemax", "workload": "attention", "cycles": cycles, "seconds": cycles / 940e6,
            "energy_pj": (2.16e16 + 1.2e15 * rng.random()) if narrow else 10 ** rng.uniform(12, 16),
            "dram_bytes": int(10 ** rng.uniform(6, 11)), "area_mm2": 10 ** rng.uniform(1, 3),
            "energy_breakdown": {"pe2d": 1e15 * rng.random(), "glb": 1e14 * rng.random(), "dram": 1e13},
            "utilization": {"2d": rng.random(), "1d": rng.random()},
        })
        params.append(p)
    return recs, params


CASES = {
    "one point": dict(n=1),
    "narrow range": dict(n=12, narrow=True),
    "long labels": dict(n=9, long=True),
    "one point, long title": dict(n=1, long=True),
    "200 points": dict(n=200),
}
_SLOW = {"200 points"}


def _cases():
    return [pytest.param(c, marks=pytest.mark.slow) if c in _SLOW else c for c in CASES]


@pytest.mark.parametrize("case", _cases())
def test_summary_has_no_overlapping_text(case):
    recs, params = _records(**CASES[case])
    assert _overlaps(sweep_figure(recs, params)) == []


@pytest.mark.parametrize("case", _cases())
def test_roofline_has_no_overlapping_text(case):
    recs, params = _records(**CASES[case])
    assert _overlaps(roofline_figure(recs, params)) == []


def _trace_case(case, rng):
    """Track name -> task spans, for each awkward case of the timeline."""
    if case.startswith("one point"):
        return {"pe": [(0, 1)]}
    if case == "narrow range":
        return {"pe2d": [(5, 6), (6, 7)], "dram": [(4, 5)]}
    if case == "long labels":
        return {f"unit_with_a_rather_long_name_number_{k}": [(10 * k, 10 * k + 7)] for k in range(6)}
    # 200 tasks on 40 tracks (drawn grouped), and a long extrapolated stretch in the middle
    starts = np.sort(rng.choice(10_000, 200, replace=False)) * 10
    tracks = {f"thread {k}": [(int(s), int(s) + 7) for s in starts[k::40]] for k in range(40)}
    tracks["thread 0"].append((10**9, 10**9 + 50))
    return tracks


@pytest.mark.parametrize("case", list(CASES))
def test_timeline_has_no_overlapping_text(tmp_path, case):
    tracks = _trace_case(case, np.random.default_rng(1))
    arch = "a_spec_file_with_a_rather_long_name_" * 4 + ".yaml" if "long" in case else "x"
    fig = timeline_figure(_trace(tmp_path / "t.json", tracks), {"arch": arch, "cycles": 10**9 + 50})
    assert _overlaps(fig) == []


def _trace(path, tracks, clock_hz=1e9):
    """A Chrome trace as the engine writes one: ``tracks`` maps a name to its (start, end) spans."""
    from sim.des.trace import complete_event, track_metadata, write_events

    names = list(tracks)
    events = track_metadata(1, "accelerator", [(k + 1, n) for k, n in enumerate(names)])
    for k, n in enumerate(names):
        events += [complete_event("t", "phase", 1, k + 1, s, e, 1e6 / clock_hz) for s, e in tracks[n]]
    write_events(str(path), events, clock_hz)
    return path


# ----------------------------------------------------------------------------- what is drawn

def test_labels_name_exactly_the_swept_parameters():
    points = expand("fusemax", [("attention", {"model": "xlm", "seq_len": "64K"})],
                    [("pe_dim", ["64", "128", "256", "512"]), ("glb_mb", ["4", "16", "64"])], "analytical")
    swept = Swept.of([], point_params(points, ["pe_dim", "glb_mb"]))
    expected = [f"pe_dim={p} glb_mb={g}" for p, g in itertools.product(["64", "128", "256", "512"], ["4", "16", "64"])]
    assert swept.labels() == expected
    assert swept.title() == "fusemax attention engine=analytical model=xlm seq_len=64K"
    assert swept.by(None) == "pe_dim" and list(swept.groups("glb_mb")) == ["4", "16", "64"]


def test_summary_bars_carry_the_labels_and_facet_past_the_limit():
    recs, params = _records(12)
    fig = sweep_figure(recs, params)
    FigureCanvasAgg(fig).draw()
    ticks = [t.get_text().replace("\n", " ") for ax in fig.get_axes() for t in ax.get_xticklabels() if "=" in t.get_text()]
    assert sorted(set(ticks)) == sorted(Swept.of([], params).labels())
    many, mparams = _records(2 * MAX_BARS + 10)
    panels = [ax for ax in sweep_figure(many, mparams, plot_by="pe_dim").get_axes() if ax.get_title().startswith("pe_dim=")]
    assert len(panels) == 2 * 10  # one panel per pe_dim value, for energy and for utilization


@pytest.mark.parametrize("values, scale", [([1, 9.9], "linear"), ([1, 10.5], "log"), ([2.16e7, 2.28e7], "linear"),
                                           ([-1, 100], "linear"), ([5], "linear")])
def test_log_axis_only_past_a_decade(values, scale):
    assert scale_for(values) == scale


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(3)
    xs, ys = rng.random(60), rng.random(60)
    xs[30], ys[30] = xs[31], ys[29]  # shared coordinates
    xs[40:50], ys[40:50] = xs[0:10], ys[0:10]  # ten points given twice
    for dup, i in ((58, np.argmin(xs[:58])), (59, np.argmin(ys[:58]))):  # two extreme points given twice
        xs[dup], ys[dup] = xs[i], ys[i]
    brute = {i for i in range(60)
             if not any(xs[j] <= xs[i] and ys[j] <= ys[i] and (xs[j] < xs[i] or ys[j] < ys[i]) for j in range(60))}
    assert {20, 58} <= brute  # the point of least x, and its copy
    assert set(pareto_front(xs, ys).tolist()) == brute


def test_roofline_of_a_fusemax_point_sits_under_its_roofs():
    (point,) = expand("fusemax", [("attention", {"model": "bert", "seq_len": "1K", "pe_dim": "64"})], [], "analytical")
    rec = evaluate_point(point)
    rl = roofline_of(rec, point_params([point])[0])
    # arch/presets/fusemax.yaml: 940 MHz, pe_dim x pe_dim 2D PEs plus pe_dim 1D PEs, 400 * 2^30 B/s DRAM.
    assert rl.peak_ops_per_s == pytest.approx((64 * 64 + 64) * 940e6)
    assert dict(rl.roofs) == {"dram": pytest.approx(400 * 2**30)}
    busy = (rec["utilization"]["2d"] * 64 * 64 + rec["utilization"]["1d"] * 64) * rec["cycles"]
    assert rl.ops == pytest.approx(busy)
    assert rl.intensity("dram") == pytest.approx(busy / rec["dram_bytes"])
    # No run beats its roofs: the compute roof, and DRAM bandwidth times operational intensity.
    assert rl.attained_ops_per_s <= min(rl.peak_ops_per_s, 400 * 2**30 * rl.intensity("dram")) * (1 + 1e-9)


def test_roofline_skips_machines_without_a_spatial_spec():
    assert roofline_of({"arch": "piuma", "cycles": 10, "seconds": 1e-8, "utilization": {"x": 1.0}}) is None


def test_timeline_occupancy_and_stretches(tmp_path):
    spans = [(0, 50), (40, 60), (100, 150), (10**6, 10**6 + 30)]
    tracks = read_trace(_trace(tmp_path / "t.json", {"pe": spans}))
    (n, (iv,)) = tracks["pe"]
    assert n == 1
    merged = _merge(iv)
    assert merged.tolist() == [[0, 60], [100, 150], [10**6, 10**6 + 30]]
    t = np.array([0, 30, 80, 120, 500, 10**6 + 10])
    cover = np.zeros(10**6 + 40, bool)  # brute force: one flag per cycle
    for s, e in spans:
        cover[s:e] = True
    assert _busy_until(merged, t.astype(float)).tolist() == [cover[:x].sum() for x in t]
    assert windows(tracks) == [(0, 150), (10**6, 10**6 + 30)]


# ----------------------------------------------------------------------------- explore --plot

@pytest.mark.parametrize("flags, message", [
    (["--plot", "{tmp}/p.gif"], "--plot {tmp}/p.gif: unknown extension '.gif' (the format follows the extension: .png, .svg, .pdf)"),
    (["--plot", "{tmp}/p"], "--plot {tmp}/p: no extension (the format follows the extension: .png, .svg, .pdf)"),
    (["--plot", "{tmp}/no/such/p.png"], "--plot {tmp}/no/such/p.png: folder '{tmp}/no/such' does not exist"),
    (["--plot-by", "y"], "--plot-by y: needs --plot (the picture's path)"),
    (["--plot", "{tmp}/p.png", "--plot-by", "x"], "--plot-by x: not a parameter that varies in this sweep (varying: y)"),
])
def test_bad_plot_flags_are_refused_before_the_sweep(slow, tmp_path, capsys, flags, message):
    log = tmp_path / "evaluated.jsonl"
    argv = ["--arch", "fusemax", "--workload", f"slow:x=1,log={log}", "--set", "y=1,2", "--quiet"]
    status = cli.main(argv + [f.format(tmp=tmp_path) for f in flags])
    err = capsys.readouterr().err
    assert status == 2
    assert err == f"explore: error: {message.format(tmp=tmp_path)}\n"
    assert not log.exists()  # nothing was evaluated


@pytest.mark.parametrize("ext, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_format_follows_the_extension(slow, tmp_path, capsys, ext, magic):
    path = tmp_path / f"p{ext}"
    assert cli.main(["--arch", "fusemax", "--workload", "slow:x=1", "--set", "y=1,2", "--plot", str(path), "--quiet"]) == 0
    assert path.read_bytes().startswith(magic)


def test_des_one_point_draws_rooflines_and_occupancy(tmp_path, capsys):
    png = tmp_path / "one.png"
    argv = ["--arch", "fusemax", "--workload", "attention:model=bert,seq_len=1K,batch=1", "--engine", "des",
            "--plot", str(png), "--format", "json"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    for name in ("one.png", "one.roofline.png", "one.timeline.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
        assert f"explore: wrote {tmp_path / name}" in err
    assert sibling(png, "timeline") == tmp_path / "one.timeline.png"
    assert check_path(png) == png


def test_unfinished_points_are_left_out_in_step_with_their_parameters():
    recs, params = _records(3)
    fig = sweep_figure([recs[0], None, recs[2]], params)
    FigureCanvasAgg(fig).draw()
    ticks = {t.get_text() for ax in fig.get_axes() for t in ax.get_xticklabels() if "=" in t.get_text()}
    assert ticks == {"pe_dim=16", "pe_dim=64"}


def test_plot_by_must_name_a_parameter():
    from arch.errors import WorkloadError

    recs, params = _records(3)
    with pytest.raises(WorkloadError, match=r"^plot_by 'nope': no such parameter \(parameters: pe_dim, arch, "):
        sweep_figure(recs, params, plot_by="nope")


def test_labels_stay_distinct_when_no_parameter_tells_points_apart():
    swept = Swept.of([], [{"arch": "fusemax", "x": "1"}, {"arch": "fusemax", "x": "1"}, {"arch": "fusemax", "x": "2"}])
    assert swept.labels() == ["x=1 #1", "x=1 #2", "x=2"]


def test_a_level_with_a_bandwidth_gets_a_roof(tmp_path):
    from pathlib import Path

    import arch

    preset = (Path(arch.__file__).parent / "presets" / "fusemax.yaml").read_text()
    spec = tmp_path / "glb_limited.yaml"
    spec.write_text(preset.replace("    banks: 32 ", "    bw_bytes_per_cycle: 512\n    banks: 32 ", 1))
    rec = {"arch": str(spec), "cycles": 1000, "seconds": 1000 / 940e6, "dram_bytes": 10**6,
           "utilization": {"2d": 0.5, "1d": 0.25}}
    rl = roofline_of(rec, {})
    # 512 B/cycle at the preset's 940 MHz; DRAM 400 * 2^30 B/s; 256 x 256 + 256 PEs.
    assert dict(rl.roofs) == {"glb": pytest.approx(512 * 940e6), "dram": pytest.approx(400 * 2**30)}
    assert rl.ops == pytest.approx((0.5 * 256 * 256 + 0.25 * 256) * 1000)
    assert list(rl.traffic) == ["dram"]  # the record reports no buffer traffic: a roof, no point
    fig = roofline_figure([rec], [{"arch": str(spec)}])
    legend = [t.get_text() for ax in fig.get_axes() if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("glb roof") and t.endswith("(no traffic in record)") for t in legend)


def test_roofline_of_a_timeloop_record_uses_its_levels():
    """A memory hierarchy's roofline (Timeloop exercise 04, cp mapping): the compute roof is the
    16 MAC units at the spec's clock, the point's operations are the record's 49,152 MACs, and its
    traffic per level is the words the record's accesses give at the level's word size (the
    exercise's levels hold 8-bit words: MainMemory moves 3072 + 576 + 512 words)."""
    from arch.registry import load_arch
    from studies.families import timeloop as family
    from studies.plots.roofline import roofline_of

    d = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "04-3levelspatial-cp"
    arch = str(d / "3levelspatial.arch.yaml")
    params = {"problem": str(d / "conv1d+oc+ic.prob.yaml"), "mapping": str(next(d.glob("*.map.yaml"))),
              "ert": str(d / "timeloop-model.ERT.yaml")}
    rec = family.evaluate(arch, params, "analytical")
    rec["arch"] = arch
    rl = roofline_of(rec, {})
    hierarchy = load_arch(arch)
    assert rl.anchor == "MainMemory"
    assert rl.peak_ops_per_s == 16 * hierarchy.clock_mhz * 1e6
    assert rl.ops == 49152
    assert rl.traffic["MainMemory"] == (3072 + 576 + 512) * hierarchy.levels[0].word_bits / 8
