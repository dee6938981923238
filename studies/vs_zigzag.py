"""GEMM layers side by side with ZigZag: wall time per design point, mappings per second, cycles, energy.

A design point is one layer (one Einsum) on one accelerator. ZigZag evaluates it by searching
spatial and temporal mappings (LOMA) and costing each; this project evaluates it either the same
way (its mapper, :func:`mappings.mapper.search`, then the generic lowering and the analytical
engine) or with a fixed mapping (the systolic model of :mod:`sim.systolic`, what the ``gemm``
family of ``explore`` runs on the ``systolic`` preset).

ZigZag is never a dependency of this project and is never imported by it: install it in a virtual
environment of its own (``python3 -m venv ../zigzag-venv && ../zigzag-venv/bin/pip install
zigzag-dse six``) and point this script at that interpreter::

    python -m studies.vs_zigzag --zigzag-python ../zigzag-venv/bin/python

The script writes, in a temporary directory, a ZigZag workload (one ``Gemm`` layer per case,
``O[b][k] += I[b][c] * W[c][k]`` with B = M, K = N, C = K, 8-bit operands, 16-bit partial sums)
and a mapping file that fixes the TPU's weight-stationary spatial unrolling (output columns on
D1, the reduction on D2, 32 each); the hardware is ZigZag's own ``tpu_like.yaml`` example, read
from its installed package (32 x 32 MACs, per-PE weight registers, a 2 MB SRAM, DRAM at 64
bits per cycle). A small driver run by ZigZag's interpreter times each call of
``zigzag.api.get_hardware_performance_zigzag`` (parsing, mapping search and costing; the import
of ZigZag is timed apart) and counts its cost-model evaluations. This project's side runs on the
``systolic`` preset (32 x 32, dataflow ``ws``, three 64 KB SRAMs): the two tools model
different memories, energies and bandwidths, so their cycles and energies are shown next to
each other, not tuned to agree.

Without ZigZag the script prints one line saying it was not found and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from arch.registry import load_arch
from mappings.mapper import search
from mappings.mapping import gemm_shape
from sim.analytical import run
from sim.lower import ANALYTICAL, lower
from sim.systolic import lower_gemm

BERT_TOKENS = 1024
BERT_BATCH_HEADS = 64 * 12  # docs/sources.md#fusemax-workloads: batch 64, BERT-Base 12 heads, E = F = 64
CASES = [  # (name, M, N, K); attention Einsums as GEMMs with batch x heads folded into M
    ("GEMM 256^3", 256, 256, 256),
    ("GEMM 1024^3", 1024, 1024, 1024),
    ("BERT QK 1K (M=B*H*L, N=L, K=E)", BERT_BATCH_HEADS * BERT_TOKENS, BERT_TOKENS, 64),
    ("BERT AV 1K (M=B*H*L, N=F, K=L)", BERT_BATCH_HEADS * BERT_TOKENS, 64, BERT_TOKENS),
]
ARRAY = 32  # ZigZag tpu_like.yaml: operational_array sizes [32, 32]; systolic preset 32 x 32

WORKLOAD = """- id: 0
  name: L{i}
  operator_type: Gemm
  equation: O[b][k]+=I[b][c]*W[c][k]
  loop_dims: [B, K, C]
  loop_sizes: [{M}, {N}, {K}]
  operand_precision: {{I: 8, W: 8, O: 16, O_final: 8}}
  operand_source: {{I: 0, W: 0}}
"""

MAPPING = f"""- name: default
  spatial_mapping:
    D1:
      - K, {ARRAY}
    D2:
      - C, {ARRAY}
  memory_operand_links: {{O: O, W: I2, I: I1}}
"""

# Run by ZigZag's interpreter: argv = workdir, repeat. Prints one JSON object per line.
DRIVER = r'''
import json, logging, os, sys, time
logging.basicConfig(level=logging.WARNING)
def out(**kw):
    print(json.dumps(kw), flush=True)
t0 = time.perf_counter()
try:
    import zigzag
    from zigzag.api import get_hardware_performance_zigzag
except Exception as e:
    out(fatal=f"cannot import zigzag.api.get_hardware_performance_zigzag: {type(e).__name__}: {e}")
    sys.exit(0)
import_s = time.perf_counter() - t0
version = "?"
try:
    from importlib.metadata import version as _v
    version = _v("zigzag-dse")
except Exception:
    pass
hw = os.path.join(os.path.dirname(zigzag.__file__), "inputs", "hardware", "tpu_like.yaml")
if not os.path.isfile(hw):
    out(fatal=f"ZigZag's example hardware {hw} is missing from this ZigZag version")
    sys.exit(0)
count = [0]
try:
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    _orig = CostModelStage.run
    def _counted(self):
        count[0] += 1
        yield from _orig(self)
    CostModelStage.run = _counted
    counting = True
except Exception:
    counting = False
out(info=True, version=version, import_s=import_s, hardware=hw, counting=counting)
work, repeat = sys.argv[1], int(sys.argv[2])
for name in sorted(f for f in os.listdir(work) if f.startswith("wl") and f.endswith(".yaml")):
    case = int(name[2:-5])
    try:
        best = None
        for r in range(repeat):
            count[0] = 0
            t = time.perf_counter()
            res = get_hardware_performance_zigzag(os.path.join(work, name), hw, os.path.join(work, "mapping.yaml"),
                                                  opt="latency", dump_folder=os.path.join(work, f"out{case}_{r}"),
                                                  loma_show_progress_bar=False)
            wall = time.perf_counter() - t
            best = wall if best is None else min(best, wall)
        energy, latency, cmes = res[0], res[1], res[-1]
        rec = dict(case=case, wall_s=best, energy_pj=float(energy), cycles=float(latency),
                   mappings=count[0] if counting else None)
        try:
            cme = cmes[0][1][0][0]
            rec.update(ideal_cycles=float(cme.ideal_cycle), mac_energy_pj=float(cme.mac_energy),
                       temporal_mapping=str(cme.temporal_mapping))
        except Exception:
            pass
        out(**rec)
    except Exception as e:
        out(case=case, error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300])
'''


def default_python() -> str:
    """ZigZag's interpreter: $ZIGZAG_PYTHON, else ``zigzag-venv`` beside the repository."""
    return os.environ.get("ZIGZAG_PYTHON", str(Path(__file__).resolve().parents[2] / "zigzag-venv" / "bin" / "python"))


def run_zigzag(python: str, cases, repeat: int, timeout_s: float) -> tuple:
    """(info dict, {case index: record}) from ZigZag, or raise RuntimeError with one line."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for i, (_, M, N, K) in enumerate(cases):
            (d / f"wl{i}.yaml").write_text(WORKLOAD.format(i=i, M=M, N=N, K=K))
        (d / "mapping.yaml").write_text(MAPPING)
        (d / "driver.py").write_text(DRIVER)
        try:
            proc = subprocess.run([python, str(d / "driver.py"), str(d), str(repeat)], cwd=d, capture_output=True,
                                  text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"ZigZag did not finish within {timeout_s:.0f} s") from None
        except OSError as e:
            raise RuntimeError(f"cannot run {python}: {e}") from None
    info, recs = {}, {}
    for line in proc.stdout.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # ZigZag's own prints
        if "fatal" in obj:
            raise RuntimeError(obj["fatal"])
        if obj.get("info"):
            info = obj
        elif "case" in obj:
            recs[obj["case"]] = obj
    if not info:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"ZigZag driver failed (exit {proc.returncode}): {tail[0][:300]}")
    return info, recs


def ours_mapper(M: int, N: int, K: int, repeat: int = 1) -> dict:
    """Whole design point with this project's mapper: spec parsed, mappings searched for latency,
    the best one lowered and run by the analytical engine; the fastest of ``repeat`` runs."""
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        spec = load_arch("systolic", {"rows": ARRAY, "cols": ARRAY, "dataflow": "ws"})
        shape = gemm_shape(M, N, K)
        res = search(spec, shape, ANALYTICAL, "latency")
        report = run(lower(spec, shape, res.best))
        wall = time.perf_counter() - t0
        if best is None or wall < best["wall_s"]:
            # Candidates decided (costed, refused as invalid, or pruned by the bound): the size of
            # the space the search covered, comparable with ZigZag's mappings evaluated.
            decided = res.evaluated + res.rejected + res.pruned
            best = {"wall_s": wall, "mappings": decided, "costed": res.evaluated, "search_s": res.seconds, "cycles": report.cycles,
                    "energy_pj": report.energy_pj}
    return best


def ours_fixed(M: int, N: int, K: int, repeat: int) -> dict:
    """Whole design point with the fixed weight-stationary mapping (spec parsed each time, as a
    fresh point of a sweep) and without the parse (``warm_s``, a sweep's later points, whose spec is
    cached); the best of ``repeat`` runs. Also the DRAM-limited variant's cycles."""
    best = warm = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        spec = load_arch("systolic", {"rows": ARRAY, "cols": ARRAY, "dataflow": "ws"})
        t1 = time.perf_counter()
        report = run(lower_gemm(spec, M, N, K))
        t2 = time.perf_counter()
        best, warm = min(best, t2 - t0), min(warm, t2 - t1)
    dram = run(lower_gemm(spec, M, N, K, dram_limited=True))
    return {"wall_s": best, "warm_s": warm, "cycles": report.cycles, "energy_pj": report.energy_pj,
            "dram_cycles": dram.cycles}


def _f(x, fmt: str, width: int) -> str:
    return f"{x:>{width}{fmt}}" if isinstance(x, (int, float)) else f"{'-':>{width}}"


def _ratio(a, b) -> float | None:
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0 else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zigzag-python", default=default_python(), help="interpreter of ZigZag's own venv")
    ap.add_argument("--repeat", type=int, default=1, help="runs per layer of ZigZag and of the mapper (the fastest counts)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed to ZigZag for all layers")
    args = ap.parse_args(argv)
    if not Path(args.zigzag_python).is_file():
        print(f"ZigZag not found: no interpreter at {args.zigzag_python} "
              "(install: python3 -m venv zigzag-venv && zigzag-venv/bin/pip install zigzag-dse six)")
        return 0
    try:
        info, zz = run_zigzag(args.zigzag_python, CASES, max(1, args.repeat), args.timeout)
    except RuntimeError as e:
        print(f"ZigZag not found or not usable: {e}")
        return 0
    ours = [(ours_mapper(M, N, K, max(1, args.repeat)), ours_fixed(M, N, K, 20)) for _, M, N, K in CASES]

    print(f"ZigZag {info.get('version')} ({info.get('hardware')}), import {info.get('import_s', 0):.2f} s; "
          f"this project: systolic preset {ARRAY}x{ARRAY} ws; {os.cpu_count()} CPUs")
    print(f"{'layer':32} | {'ZZ s/pt':>8} {'ZZ maps':>7} {'ZZ map/s':>8} | {'mapper s':>8} {'cands':>6} "
          f"{'costed':>6} {'x ZZ pt':>7} | {'fixed s':>8} {'x ZZ pt':>8} {'warm s':>8} {'x ZZ pt':>8}")
    for i, (name, M, N, K) in enumerate(CASES):
        z = zz.get(i, {"error": "no result"})
        m, f = ours[i]
        if "error" in z:
            print(f"{name:32} | ZigZag error: {z['error']}")
            z, name = {}, ""
        zrate = _ratio(z.get("mappings"), z.get("wall_s"))
        print(f"{name:32} | {_f(z.get('wall_s'), '.3f', 8)} {_f(z.get('mappings'), 'd', 7)} {_f(zrate, '.0f', 8)} | "
              f"{m['wall_s']:>8.3f} {m['mappings']:>6} {m['costed']:>6} "
              f"{_f(_ratio(z.get('wall_s'), m['wall_s']), '.1f', 6)}x | "
              f"{f['wall_s']:>8.5f} {_f(_ratio(z.get('wall_s'), f['wall_s']), '.0f', 7)}x "
              f"{f['warm_s']:>8.6f} {_f(_ratio(z.get('wall_s'), f['warm_s']), '.0f', 7)}x")
    print()
    print(f"{'layer':32} | {'ZZ cycles':>11} {'ZZ ideal':>11} {'mapper cyc':>11} {'fixed cyc':>11} "
          f"{'fixed dram':>11} | {'ZZ uJ':>9} {'mapper uJ':>9} {'fixed uJ':>9}")
    for i, (name, M, N, K) in enumerate(CASES):
        z = zz.get(i, {})
        m, f = ours[i]
        uj = (lambda x: x / 1e6 if isinstance(x, (int, float)) else None)
        print(f"{name:32} | {_f(z.get('cycles'), ',.0f', 11)} {_f(z.get('ideal_cycles'), ',.0f', 11)} "
              f"{m['cycles']:>11,} {f['cycles']:>11,} {f['dram_cycles']:>11,} | "
              f"{_f(uj(z.get('energy_pj')), ',.1f', 9)} {m['energy_pj'] / 1e6:>9,.1f} {f['energy_pj'] / 1e6:>9,.1f}")
    print("ZZ: ZigZag, whole API call per layer (mapping search included). mapper: spec parse + search + "
          "lower + engine. fixed: SCALE-Sim-exact ws model, spec parse included (warm: spec cached);\n"
          "unlimited bandwidth, 'fixed dram' waits for DRAM. x ZZ: ZigZag's time (or rate) over ours.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
