"""``explore``: sweep architectures and workloads, print or save one record per design point.

Examples::

    explore --arch fusemax                                   # the embedded default sweep
    explore --list                                           # presets and workload kinds
    explore --arch systolic --workload gemm:M=256,N=128,K=256 \\
            --set rows=32,16 --set dataflow=os,ws,is --format json
    explore --arch fusemax --workload attention:model=bert,seq_len=1M --engine des
    explore --arch piuma --workload spgemm:matrix=m.mtx --set kernel=inner,smash-v3
    explore --study fusemax                                  # the paper's table

Bad input (an unknown preset, parameter or value, an existing output without ``--resume``)
prints one line on stderr and exits with status 2; records already finished stay in the
output's journal.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path

from arch.cliargs import OneLineParser, int_arg
from arch.errors import AccelError, WorkloadError, one_line

ENGINES = ("analytical", "des")
STUDIES = {"fusemax": "studies.fusemax", "smash": "studies.smash"}
#: Largest ``--jobs``; the pool is further capped at the number of points.
MAX_JOBS = 1024
#: Per study: the ``--set`` keys it takes (-> its own flag), and whether it takes ``--arch``.
#: Every other sweep flag is refused with ``--study`` rather than ignored.
STUDY_SETS = {"fusemax": {"dram_staging": "--dram-staging", "batch": "--batch"},
              "smash": {"min_scale": "--min-scale", "max_scale": "--max-scale", "edge_factor": "--edge-factor",
                        "matrices": "--matrices"}}
STUDY_ARCH = {"fusemax": False, "smash": True}


def build_parser(parser_class=OneLineParser) -> argparse.ArgumentParser:
    """The ``explore`` flags; ``parser_class`` decides what a usage error does (the command
    line's :class:`~arch.cliargs.OneLineParser` exits with status 2, the Python API raises)."""
    from studies.output import FORMATS

    ap = parser_class(prog="explore", description="Accelerator design-space explorer: cycles and energy of Einsum-cascade workloads on spatial hardware.")
    ap.add_argument("--arch", help="preset name (see --list) or a spec .yaml file")
    ap.add_argument("--workload", action="append", default=[], metavar="KIND[:K=V,...]", help="a workload point; repeatable (kinds: gemm, attention, end2end, spgemm, mmfree, timeloop)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2", help="sweep a parameter over values (cartesian across --set flags); repeatable")
    ap.add_argument("--engine", choices=ENGINES, default="analytical", help="cost engine (default: analytical)")
    ap.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    ap.add_argument("--out", metavar="PATH", help="write the records here instead of stdout")
    ap.add_argument("--plot", metavar="PATH", help="write pictures (.png, .svg or .pdf): Pareto fronts, energy, utilization; rooflines and (des, one point) occupancy beside it")
    ap.add_argument("--plot-by", metavar="KEY", help="with --plot: colour and group by this swept parameter (default: the first swept)")
    ap.add_argument("--jobs", type=int_arg(1, MAX_JOBS), default=1, metavar="N",
                    help="evaluate points on a pool of N processes (at most one per point)")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted sweep into an existing --out")
    ap.add_argument("--dask", metavar="ADDRESS", help="run the sweep on a Dask distributed scheduler")
    ap.add_argument("--trace", metavar="PATH", help="with --engine des and one point: write a Chrome-trace JSON timeline")
    ap.add_argument("--mapping", metavar="M.yaml|NAME", help="cascade workloads: a mapping file or a shipped mapping's name (default: the mapper searches)")
    ap.add_argument("--study", choices=sorted(STUDIES), help="run a paper reproduction study")
    ap.add_argument("--list", action="store_true", help="list presets and workload kinds")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def _list_text() -> str:
    from arch.registry import list_presets
    from studies.families import FAMILIES

    lines = ["presets:"]
    for name, desc in list_presets().items():
        lines.append(f"  {name:<12} {desc}")
    lines.append("workload kinds: " + ", ".join(FAMILIES))
    from studies.families.cascade import NAMES

    lines.append("cascades (cascade:name=...): " + ", ".join(NAMES))
    lines.append("studies: " + ", ".join(sorted(STUDIES)))
    return "\n".join(lines)


def _workloads(args) -> list:
    from studies.families import default_kind, family
    from studies.sweep import parse_assignments

    if args.workload:
        out = []
        for text in args.workload:
            kind, _, rest = text.partition(":")
            family(kind.strip())
            out.append((kind.strip(), parse_assignments(rest, f"--workload {text}")))
        return out
    kind = default_kind(args.arch)
    return [(kind, dict(p)) for p in family(kind).DEFAULTS]


def _given_flags(args) -> set:
    """Destinations of the flags given a value other than their default."""
    defaults = vars(build_parser().parse_args([]))
    return {k for k, v in vars(args).items() if v != defaults.get(k)}


def _study_argv(args) -> list:
    """The study's own arguments for the explore flags given with ``--study``; a flag the
    study cannot honour is refused with one line."""
    name = args.study
    for flag, given in (("--workload", args.workload), ("--dask", args.dask), ("--resume", args.resume),
                        ("--trace", args.trace), ("--arch", args.arch and not STUDY_ARCH[name])):
        if given:
            raise WorkloadError(f"{flag} does not apply to --study {name} (it runs its own design points)")
    argv = ["--format", args.format, "--engine", args.engine]
    if args.arch:
        argv += ["--arch", args.arch]
    if args.out:
        argv += ["--out", args.out]
    if args.plot:
        argv += ["--plot", args.plot]
    if args.jobs != 1:
        argv += ["--jobs", str(args.jobs)]
    if args.quiet and name == "smash":
        argv += ["--quiet"]
    from studies.sweep import parse_set

    for text in args.set:
        key, values = parse_set(text)
        if key not in STUDY_SETS[name]:
            accepted = ", ".join(sorted(STUDY_SETS[name])) or "none"
            raise WorkloadError(f"--set {key}: --study {name} takes no such parameter (accepted: {accepted})")
        if len(values) != 1:
            raise WorkloadError(f"--set {text}: --study {name} takes one value per parameter, not {len(values)}")
        argv += [STUDY_SETS[name][key], values[0]]
    return argv


def run_study(args) -> int:
    """Run ``--study``: the study's own ``main`` with the explore flags it honours; returns its
    exit status (its output goes to stdout, as the command line prints it)."""
    mod = importlib.import_module(STUDIES[args.study])
    return int(mod.main(_study_argv(args)) or 0)


def _open_journal(args):
    """The journal of ``--out`` (locked), checked before anything runs; None without ``--out``."""
    from studies.journal import Journal

    out = Path(args.out)
    if not out.name or out.name in (".", "..") or out.is_dir():
        raise WorkloadError(f"--out {args.out}: must name a file, not a folder")
    if not out.parent.is_dir():
        raise WorkloadError(f"--out {out}: folder {out.parent} does not exist")
    journal = Journal(out.with_name(out.name + ".journal.jsonl"), flag=f"--out {out}")
    if not args.resume and (out.exists() or journal.path.exists()):
        raise WorkloadError(f"--out {out}: file exists; pass --resume to continue that sweep, or choose another path")
    return journal.open(fresh=not args.resume)


def _sweep(args, points, journal) -> list:
    """Records of ``points`` in order: from the journal when resuming, computed otherwise."""
    from studies import sweep
    from studies.progress import Progress

    done = journal.read() if journal is not None and args.resume else {}
    records = [None] * len(points)
    todo = []
    for i, p in enumerate(points):
        if p.key in done:
            records[i] = done[p.key]
        else:
            todo.append(i)
    progress = Progress(len(points), enabled=not args.quiet)
    progress.step(len(points) - len(todo))

    def finished(j, point, record):
        records[todo[j]] = record
        if journal is not None:
            journal.append(point.key, record)
        progress.step()

    try:
        sweep.run_points([points[i] for i in todo], finished, jobs=args.jobs, dask=args.dask)
    except BaseException:
        progress.abort()
        raise
    progress.close(computed=len(todo), reused=len(points) - len(todo), dropped=journal.dropped if journal else 0)
    return records


def sweep_records(args) -> list:
    """Records of the sweep that ``args`` (parsed ``explore`` flags, without ``--list`` or
    ``--study``) describes, one per design point in order; written to ``--out`` when given.

    The command line prints them; :func:`studies.api.explore` returns them as a DataFrame.
    Bad flags raise :class:`~arch.errors.AccelError` subclasses before any point runs.
    """
    from studies import output, sweep

    if not args.arch:
        raise WorkloadError("--arch is required (a preset name from --list, or a .yaml spec)")
    if args.resume and not args.out:
        raise WorkloadError("--resume needs --out (the sweep's output file)")
    if args.format == "parquet" and not args.out:
        raise WorkloadError("--format parquet needs --out (Parquet is binary)")
    if args.trace and args.engine != "des":
        raise WorkloadError("--trace needs --engine des")
    if args.dask and args.jobs != 1:
        raise WorkloadError("--jobs does not apply with --dask (the cluster's workers run the points)")

    sets = [sweep.parse_set(s) for s in args.set]
    workloads = _workloads(args)
    if args.mapping:
        from studies.families.cascade import with_mapping

        workloads = with_mapping(workloads, args.mapping)
    points = sweep.expand(args.arch, workloads, sets, args.engine)
    for p in points:
        sweep.check_keys(p)
    if args.trace:
        if len(points) != 1:
            raise WorkloadError(f"--trace needs exactly one design point, not {len(points)}")
        points = [dataclasses.replace(points[0], trace=args.trace)]
    points, plot_params = _plot_setup(args, points, [k for k, _ in sets])

    journal = _open_journal(args) if args.out else None
    try:
        records = _sweep(args, points, journal)
        if args.out:
            try:
                output.write(records, args.format, args.out)
            except OSError as err:
                raise WorkloadError(f"--out {args.out}: cannot write ({err.strerror or err}); "
                                    "the records are kept in its journal") from None
    finally:
        if journal is not None:
            journal.close(remove_if_empty=True)
    if args.plot:
        _write_plots(args, records, points, plot_params)
    return records


def run(args) -> int:
    from studies import output

    if args.list:
        others = _given_flags(args) - {"list"}
        if others:
            raise WorkloadError(f"--list takes no other flag, not --{sorted(others)[0].replace('_', '-')}")
        print(_list_text())
        return 0
    _check_plot_flags(args)
    if args.study:
        return run_study(args)
    records = sweep_records(args)
    if not args.out:
        print(output.render(records, args.format))
    return 0


def _check_plot_flags(args) -> None:
    """``--plot`` to a missing folder or an unknown format, and ``--plot-by`` alone, are refused
    before anything runs."""
    from studies.plots import check_path

    if args.plot_by and not args.plot:
        raise WorkloadError(f"--plot-by {args.plot_by}: needs --plot (the picture's path)")
    if args.plot_by and args.study:
        raise WorkloadError(f"--plot-by {args.plot_by}: --study {args.study} draws its own figure; --plot-by applies to sweeps")
    if args.plot:
        check_path(args.plot)


def _plot_setup(args, points, set_keys):
    """The parameters labels show, checked against ``--plot-by`` before the sweep runs; a
    one-point discrete-event run writes its trace (to a scratch file without ``--trace``; not
    on a Dask cluster, whose workers may not share this file system) for the occupancy picture."""
    if not args.plot:
        return points, None
    from studies.plots.views import check_plot_by, point_params

    params = point_params(points, set_keys)
    check_plot_by(args.plot_by, params)
    if args.engine == "des" and len(points) == 1 and not args.trace and not args.dask:
        import atexit
        import os
        import tempfile

        fd, scratch = tempfile.mkstemp(prefix="explore-trace-", suffix=".json")
        os.close(fd)
        atexit.register(lambda: os.path.exists(scratch) and os.unlink(scratch))
        points = [dataclasses.replace(points[0], trace=scratch)]
    return points, params


def _write_plots(args, records, points, params) -> None:
    """The pictures of ``--plot``; a one-point discrete-event run's timeline comes from its trace."""
    import os

    from studies.plots.views import write_plots

    trace = points[0].trace if len(points) == 1 and args.engine == "des" else None
    written = write_plots(records, args.plot, params, args.plot_by, trace=trace)
    if trace and trace != args.trace and os.path.exists(trace):
        os.unlink(trace)
    for path in written:
        if not args.quiet:
            sys.stderr.write(f"explore: wrote {path}\n")


def main(argv=None) -> int:
    """Entry point of ``explore``; returns the exit status (2 on bad input, one line on stderr)."""
    try:
        return run(build_parser().parse_args(argv))
    except SystemExit as exc:    # argparse (and a study's own parser): usage error or --help
        return exc.code if isinstance(exc.code, int) else 2
    except AccelError as err:
        sys.stderr.write(f"explore: error: {one_line(err)}\n")
        return 2
    except BrokenPipeError:
        # The reader went away (``explore ... | head``): not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("explore: interrupted; finished points are kept in the output's journal (rerun with --resume)\n")
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence of the one-line contract
        text = " ".join(str(err).split())[:300]
        sys.stderr.write(f"explore: internal error: {type(err).__name__}: {text} (please report it with the command)\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
