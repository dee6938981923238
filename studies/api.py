"""The Python API: :func:`explore` returns as a pandas DataFrame what ``explore`` prints.

A notebook or script calls the design-space explorer without a shell::

    from studies import explore
    df = explore(arch="fusemax", workload="attention:model=bert,seq_len=1M",
                 sets={"pe_dim": [128, 256]}, engine="des", jobs=2)

The call takes the command line's road: its keywords become ``explore`` flags, parsed by the
same parser, expanded and run by the same functions (:func:`studies.cli.sweep_records`,
:func:`studies.cli.run_study`), and the records become a frame through the same CSV text that
``explore --format csv`` prints, so the frame equals ``pandas.read_csv`` of that output,
column order and types included. Bad arguments raise the project's exceptions
(:class:`~arch.errors.AccelError` subclasses); the API never prints or exits.

:func:`to_records` turns such a frame back into the records the plots take
(:mod:`studies.plots`): what ``explore --format json`` prints for the same arguments.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

from arch.cliargs import OneLineParser
from arch.errors import WorkloadError


class _RaisingParser(OneLineParser):
    """The ``explore`` parser, raising :class:`~arch.errors.WorkloadError` on a usage error."""

    def error(self, message):
        raise WorkloadError(f"explore: {' '.join(message.split())}")


def _set_flags(sets) -> list:
    """``{"pe_dim": [128, 256]}`` -> ``["--set", "pe_dim=128,256"]`` (one flag per key)."""
    if sets is None:
        return []
    if not isinstance(sets, dict):
        raise WorkloadError(f"explore: 'sets' must be a dict of parameter -> values, not {type(sets).__name__}")
    argv = []
    for key, values in sets.items():
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        texts = [str(v) for v in values]
        bad = [t for t in texts if "," in t or not t.strip()]
        if bad or not texts:
            raise WorkloadError(f"explore: sets[{key!r}] values must be non-empty and hold no comma, not {values!r}")
        argv += ["--set", f"{key}={','.join(texts)}"]
    return argv


def _argv(arch=None, workload=None, sets=None, engine="analytical", jobs=1, study=None,
          dask=None, trace=None, progress=False, mapping=None) -> list:
    """The ``explore`` command-line arguments equivalent to an :func:`explore` call (with
    ``--format csv``); :func:`explore` documents the parameters."""
    argv = ["--format", "csv", "--engine", str(engine)]
    if jobs != 1:
        argv += ["--jobs", str(jobs)]
    for flag, value in (("--arch", arch), ("--study", study), ("--dask", dask), ("--trace", trace),
                        ("--mapping", mapping)):
        if value is not None:
            argv += [flag, str(value)]
    workloads = [workload] if isinstance(workload, str) else list(workload or [])
    for text in workloads:
        if not isinstance(text, str):
            raise WorkloadError(f"explore: 'workload' must be a string or a list of strings, not {text!r}")
        argv += ["--workload", text]
    argv += _set_flags(sets)
    if not progress:
        argv.append("--quiet")
    return argv


def _frame(csv_text: str):
    import pandas as pd

    if not csv_text.strip():
        return pd.DataFrame()
    return pd.read_csv(io.StringIO(csv_text))


def _study_csv(args) -> str:
    """The CSV text that ``explore --study NAME --format csv`` prints, without printing it."""
    from studies import cli

    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            status = cli.run_study(args)
    except SystemExit as exc:   # the study's own parser refused a flag (one line on stderr)
        lines = err.getvalue().strip().splitlines() or [f"exit status {exc.code}"]
        raise WorkloadError(lines[-1]) from None
    if status:
        raise WorkloadError(f"explore: --study {args.study} ended with status {status}")
    return out.getvalue()


def explore(arch=None, workload=None, sets=None, engine="analytical", jobs=1, study=None,
            dask=None, trace=None, progress=False, mapping=None):
    """Evaluate design points (or run a study) and return one row per record.

    Parameters
    ----------
    arch : str, optional
        A preset name (``explore --list``) or the path of a spec ``.yaml`` (``--arch``).
        Required for a sweep; with ``study="smash"`` it names the machine.
    workload : str or list of str, optional
        One workload point (``"gemm:M=256,N=128,K=256"``) or several (the repeatable
        ``--workload``); None: the architecture's default workloads.
    sets : dict, optional
        Parameter -> value or list of values, swept as a cartesian product (``--set KEY=V1,V2``
        per key). Values are written with ``str``; pass strings to keep a spelling (``"1e6"``).
    engine : {"analytical", "des"}
        The cost engine (``--engine``).
    jobs : int
        Processes of the local pool (``--jobs``); 1 runs in this process.
    study : {"fusemax", "smash"}, optional
        Run a paper reproduction (``--study``) instead of a sweep; ``sets`` then takes the
        study's own parameters (``{"batch": 8}``).
    dask : str, optional
        Address of a Dask scheduler to run the sweep on (``--dask``).
    trace : str, optional
        With ``engine="des"`` and one design point: write a Chrome-trace JSON there (``--trace``).
    progress : bool
        Show the progress bar (on a terminal) and the closing summary line on stderr.
    mapping : str, optional
        For ``cascade:`` and ``spgemm:`` workloads: a mapping file or a shipped mapping's name
        (``--mapping``, ``"fusemax"``); None: the mapper searches (cascades) or the workload's
        ``kernel`` applies (SpGEMM).

    Returns
    -------
    pandas.DataFrame
        Equal to ``pandas.read_csv`` of what ``explore ... --format csv`` prints for the same
        arguments: nested fields flattened to dotted columns (``energy_breakdown.2d``), cycles
        in cycles, energy in pJ, sizes in bytes, seconds in s.

    Raises
    ------
    arch.errors.AccelError
        Any bad argument (an unknown preset, parameter, value or flag combination), with one
        line naming it; nothing is printed and the interpreter does not exit.
    """
    from studies import cli, output

    argv = _argv(arch, workload, sets, engine, jobs, study, dask, trace, progress, mapping)
    args = cli.build_parser(_RaisingParser).parse_args(argv)
    if args.study:
        return _frame(_study_csv(args))
    return _frame(output.render(cli.sweep_records(args), "csv"))


def to_records(frame) -> list:
    """The records of an :func:`explore` frame, shaped as ``explore --format json`` prints them.

    The inverse of the CSV flattening: dotted columns become nested dicts again
    (``energy_breakdown.2d`` -> ``record["energy_breakdown"]["2d"]``, in pJ; ``utilization.2d``
    -> ``record["utilization"]["2d"]``, a fraction), and an empty cell (a key that record does
    not have, read back as NaN) is left out. Values are those pandas read from the CSV text: a
    column of integers that has an empty cell holds floats (``rmat`` 9.0). The plots of
    :mod:`studies.plots` take these records.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame :func:`explore` returned, or any subset of its rows and columns.

    Returns
    -------
    list of dict
        One record per row, in row order, keys in column order; values are Python scalars.
    """
    import pandas as pd

    out = []
    for row in frame.to_dict("records"):
        rec = {}
        for name, value in row.items():
            if not isinstance(value, (list, dict)) and pd.isna(value):
                continue
            *parents, leaf = str(name).split(".")
            node = rec
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        out.append(rec)
    return out
