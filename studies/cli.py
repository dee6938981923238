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
import time
from pathlib import Path

from arch.errors import AccelError, WorkloadError

ENGINES = ("analytical", "des")
STUDIES = {"fusemax": "studies.fusemax", "smash": "studies.smash"}


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, ``PROG: error: ...``, and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from studies.output import FORMATS

    ap = OneLineParser(prog="explore", description="Accelerator design-space explorer: cycles and energy of Einsum-cascade workloads on spatial hardware.")
    ap.add_argument("--arch", help="preset name (see --list) or a spec .yaml file")
    ap.add_argument("--workload", action="append", default=[], metavar="KIND[:K=V,...]", help="a workload point; repeatable (kinds: gemm, attention, end2end, spgemm, mmfree)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2", help="sweep a parameter over values (cartesian across --set flags); repeatable")
    ap.add_argument("--engine", choices=ENGINES, default="analytical", help="cost engine (default: analytical)")
    ap.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    ap.add_argument("--out", metavar="PATH", help="write the records here instead of stdout")
    ap.add_argument("--plot", metavar="PATH", help="write a PNG: Pareto fronts, energy breakdown, utilization")
    ap.add_argument("--jobs", type=int, default=1, metavar="N", help="evaluate points on a pool of N processes")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted sweep into an existing --out")
    ap.add_argument("--dask", metavar="ADDRESS", help="run the sweep on a Dask distributed scheduler")
    ap.add_argument("--trace", metavar="PATH", help="with --engine des and one point: write a Chrome-trace JSON timeline")
    ap.add_argument("--mapping", metavar="M.yaml|NAME", help="cascade workloads: a mapping file or a shipped mapping's name (default: the mapper searches)")
    ap.add_argument("--study", choices=sorted(STUDIES), help="run a paper reproduction study")
    ap.add_argument("--list", action="store_true", help="list presets and workload kinds")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


class Progress:
    """A progress bar on stderr (only on a terminal), and a closing summary line."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.t0 = total, 0, time.perf_counter()
        self.tty = enabled and sys.stderr.isatty()
        self.enabled = enabled

    def step(self, n: int = 1):
        self.done += n
        if self.tty:
            width = 30
            fill = int(width * self.done / max(self.total, 1))
            sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} points {time.perf_counter() - self.t0:.1f} s")
            sys.stderr.flush()

    def abort(self):
        if self.tty:
            sys.stderr.write("\n")

    def close(self, computed: int, reused: int):
        if not self.enabled:
            return
        if self.tty:
            sys.stderr.write("\n")
        extra = f", {reused} resumed" if reused else ""
        sys.stderr.write(f"explore: {computed} points in {time.perf_counter() - self.t0:.2f} s{extra}\n")


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


def _run_study(args, argv_extra) -> int:
    mod = importlib.import_module(STUDIES[args.study])
    forwarded = ["--format", args.format, "--engine", args.engine]
    if args.out:
        forwarded += ["--out", args.out]
    if args.plot:
        forwarded += ["--plot", args.plot]
    if args.jobs != 1:
        forwarded += ["--jobs", str(args.jobs)]
    return int(mod.main(forwarded + argv_extra) or 0)


def run(args) -> int:
    from studies import output, sweep

    if args.list:
        print(_list_text())
        return 0
    if args.study:
        return _run_study(args, [])
    if not args.arch:
        raise WorkloadError("--arch is required (a preset name from --list, or a .yaml spec)")
    if args.jobs < 1:
        raise WorkloadError(f"--jobs must be a positive integer, not {args.jobs}")
    if args.resume and not args.out:
        raise WorkloadError("--resume needs --out (the sweep's output file)")
    if args.format == "parquet" and not args.out:
        raise WorkloadError("--format parquet needs --out (Parquet is binary)")
    if args.trace and args.engine != "des":
        raise WorkloadError("--trace needs --engine des")

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

    journal = None
    done = {}
    if args.out:
        out = Path(args.out)
        journal = sweep.Journal(out.with_name(out.name + ".journal.jsonl"))
        if not args.resume and (out.exists() or journal.path.exists()):
            raise WorkloadError(f"--out {out}: file exists; pass --resume to continue that sweep, or choose another path")
        if not out.parent.is_dir():
            raise WorkloadError(f"--out {out}: folder {out.parent} does not exist")
        done = journal.read() if args.resume else {}

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
        if journal:
            journal.append(point.key, record)
        progress.step()

    try:
        sweep.run_points([points[i] for i in todo], finished, jobs=args.jobs, dask=args.dask)
    except BaseException:
        progress.abort()
        raise
    progress.close(computed=len(todo), reused=len(points) - len(todo))

    if args.out:
        output.write(records, args.format, args.out)
    else:
        print(output.render(records, args.format))
    if args.plot:
        from studies.plots import plot_records

        plot_records(records, args.plot)
    return 0


def main(argv=None) -> int:
    """Entry point of ``explore``; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except AccelError as err:
        sys.stderr.write(f"explore: error: {err}\n")
        return 2
    except BrokenPipeError:
        # The reader went away (``explore ... | head``): not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("explore: interrupted; finished points are kept in the output's journal (rerun with --resume)\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
