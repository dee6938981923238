"""Speed of the discrete-event engine on this machine.

Prints (one line each):

* the raw rate of the compiled executor: task instances simulated per second with no
  fast-forward, on a double-buffered load -> 2D -> 1D -> store pipeline;
* the rate of the literal SimPy model (one process per unit) on the same graph, for scale;
* the wall time of a synthetic graph shaped like FuseMax attention at 1M tokens (BERT-Base,
  batch 64): one phase of ~14 tasks per iteration, a super-period of 4096 iterations (Q-tile
  load at the first step of an m1 loop, output at the last), ~10^9 iterations, fast-forwarded;
* the wall time of the real thing: BERT-Base attention, batch 64, 1M tokens, on the ``fusemax``
  preset with the shipped FuseMax mapping (``studies.families.attention.layer_graph``), lowered
  and simulated by the DES;
* analytical design points evaluated per second on the synthetic graph.

Run: ``python -m studies.bench_des``.
"""

from __future__ import annotations

import time

from sim import analytical
from sim import des
from sim.taskgraph import Dep, Phase, Task, TaskGraph


def pipeline_graph(iterations: int) -> TaskGraph:
    """Double-buffered tile pipeline: load (DRAM) -> 2D array -> 1D array -> store (DRAM)."""
    tasks = (
        Task("load", "dram", 40, latency=100, deps=(Dep("mm", 2),), actions={("dram", "read"): 2048}),
        Task("mm", "pe2d", 64, latency=4, deps=(Dep("load", 0),), actions={("pe2d", "mac"): 64 * 256}),
        Task("softmax", "pe1d", 48, latency=2, deps=(Dep("mm", 0), Dep("softmax", 1))),
        Task("store", "dram", 8, deps=(Dep("softmax", 0),), actions={("dram", "write"): 512}),
    )
    return TaskGraph(phases=(Phase("tiles", tasks, iterations),), units={"dram": 1, "pe2d": 256, "pe1d": 16},
                     clock_hz=940e6)


def attention_like_graph(iterations: int, period: int = 4096) -> TaskGraph:
    """A phase of 14 tasks per iteration with a super-period of ``period`` iterations."""
    last = period - 1
    tasks = (
        Task("load_q", "dram", 256, latency=100, every=period, offset=0, deps=(Dep("out", 1),)),
        Task("load_k", "dram", 64, latency=100, deps=(Dep("qk", 2),)),
        Task("load_v", "dram", 64, latency=100, deps=(Dep("av", 2),)),
        Task("qk", "pe2d", 256, latency=8, deps=(Dep("load_q", 0), Dep("load_k", 0))),
        Task("rmax", "pe1d", 16, latency=2, deps=(Dep("qk", 0), Dep("rmax", 1))),
        Task("sub", "pe1d", 16, latency=2, deps=(Dep("rmax", 0),)),
        Task("exp", "pe1d", 32, latency=4, deps=(Dep("sub", 0),)),
        Task("rsum", "pe1d", 16, latency=2, deps=(Dep("exp", 0), Dep("rsum", 1))),
        Task("scale_prev", "pe1d", 16, latency=2, deps=(Dep("rmax", 0), Dep("acc", 1))),
        Task("av", "pe2d", 256, latency=8, deps=(Dep("exp", 0), Dep("load_v", 0))),
        Task("acc", "pe1d", 16, latency=2, deps=(Dep("av", 0), Dep("scale_prev", 0))),
        Task("div", "pe1d", 64, latency=4, every=period, offset=last, deps=(Dep("acc", 0), Dep("rsum", 0))),
        Task("out", "dram", 256, latency=0, every=period, offset=last, deps=(Dep("div", 0),)),
        Task("spill", "port0", 8, deps=(Dep("acc", 0),)),
    )
    return TaskGraph(phases=(Phase("attention", tasks, iterations),),
                     units={"dram": 1, "pe2d": 256 * 256, "pe1d": 256, "port0": 1}, clock_hz=940e6)


def bert_1m():
    """Lower and simulate BERT-Base attention (batch 64, 1M tokens) on the fusemax preset."""
    from arch.registry import load_arch
    from mappings.workloads import Workload, model
    from studies.families.attention import DEFAULT_ARCH, layer_graph

    spec = load_arch(DEFAULT_ARCH["fusemax"], {})
    return des.run(layer_graph(spec, Workload(model("bert"), 1 << 20, 64), "fusemax", "attention"))


def timed(fn, repeat: int = 1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    g = pipeline_graph(250_000)
    wall, rep = timed(lambda: des.run(g, fast_forward=False), repeat=2)
    print(f"raw rate (compiled, no fast-forward): {rep.simulated_steps / wall:,.0f} task instances/s "
          f"({rep.simulated_steps:,} in {wall:.2f} s, {rep.cycles:,} cycles)")
    small = pipeline_graph(5_000)
    wall_p, rep_p = timed(lambda: des.run(small, executor="processes"))
    ref = des.run(small, fast_forward=False)
    print(f"literal SimPy model (process per unit): {rep_p.simulated_steps / wall_p:,.0f} task instances/s "
          f"(cycles {rep_p.cycles:,} == compiled {ref.cycles:,}: {rep_p.cycles == ref.cycles})")
    # BERT-Base batch 64 at 1M tokens: 64 x 12 heads x (1M / 256 query tiles) x 4096 key tiles
    # would be ~1.3e10 tile steps; the synthetic graph keeps the shape with 2^30 iterations.
    big = attention_like_graph(1 << 30)
    wall_b, rep_b = timed(lambda: des.run(big))
    print(f"attention-shaped phase, {big.steps():,} task instances ({1 << 30:,} iterations, super-period 4096): "
          f"{wall_b:.2f} s wall, simulated {rep_b.simulated_steps:,}, extrapolated {rep_b.extrapolated_steps:,}, "
          f"cycles {rep_b.cycles:,}, regime {rep_b.meta['des']['phases'][0]['regime']}")
    att = attention_like_graph(4096 * 20)
    wall_r, rep_r = timed(lambda: des.run(att, fast_forward=False))
    print(f"raw rate on the attention-shaped phase (no fast-forward): {rep_r.simulated_steps / wall_r:,.0f} "
          f"task instances/s ({rep_r.simulated_steps:,} in {wall_r:.2f} s)")
    wall_f, rep_f = timed(bert_1m)
    print(f"BERT-Base attention, batch 64, 1M tokens, fusemax preset, DES: {wall_f:.2f} s wall (lowering included), "
          f"cycles {rep_f.cycles:,}, simulated {rep_f.simulated_steps:,}, extrapolated {rep_f.extrapolated_steps:,}")
    n = 2000
    wall_a, _ = timed(lambda: [analytical.run(big) for _ in range(n)])
    print(f"analytical engine on the same graph: {n / wall_a:,.0f} design points/s")


if __name__ == "__main__":
    main()
