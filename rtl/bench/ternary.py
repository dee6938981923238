"""Cases, the cycle-level bench and the checker for the ternary matrix-vector unit.

A :class:`Case` is one matrix-vector product with its stimulus timing: the weight codes, the
activations, the consumer's ``ready`` pattern on the result stream (back-pressure) and the
producers' idle gaps. :class:`TernaryBench` runs a list of cases back to back on the unit, one
clock cycle per :meth:`~TernaryBench.inputs` / :meth:`~TernaryBench.outputs` pair, and
:func:`check` compares what the unit did with the golden model of ``sim.ternary`` (the same
code the simulator's accelerator models use): every result bit-exact, the gated-lane count, the
error flag, and the cycle count exactly equal to :func:`sim.ternary.simulate_cycles`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rtl.bench.stream import StreamSink, StreamSource
from sim.ternary import TernaryParams, encode, matvec, simulate_cycles

INPUTS = ("cmd__valid", "cmd__payload", "act__valid", "act__payload", "weight__valid",
          "weight__payload", "result__ready")
OUTPUTS = ("cmd__ready", "act__ready", "weight__ready", "result__valid", "result__payload",
           "gated", "error", "busy")


@dataclass(frozen=True)
class Case:
    """One product and its stimulus timing (all plain lists so that it round-trips via JSON)."""

    name: str
    seed: int
    codes: list          # rows x cols 2-bit codes
    x: list              # cols activations
    ready: list          # result-stream ready pattern, repeated from the command's cycle ([] = always)
    act_gaps: list       # idle cycles before each activation beat (repeated)
    weight_gaps: list    # idle cycles before each weight beat (repeated)

    @property
    def rows(self):
        return len(self.codes)

    @property
    def cols(self):
        return len(self.codes[0])

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**d)


def random_case(seed, params: TernaryParams, *, rows=None, cols=None, backpressure=0.0,
                gaps=0.0, name=None) -> Case:
    """A random product from ``seed``: shape (if not given) uniform in 1..max, weights uniform
    over {-1, 0, +1}, activations uniform over the full signed range; ``backpressure`` is the
    probability that ``ready`` is low in a cycle, ``gaps`` the probability of an idle cycle
    before a beat (geometric gaps)."""
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, params.max_rows + 1)) if rows is None else rows
    cols = int(rng.integers(1, params.max_cols + 1)) if cols is None else cols
    w = rng.integers(-1, 2, size=(rows, cols))
    half = 2 ** (params.act_width - 1)
    x = rng.integers(-half, half, size=cols)
    ready = (rng.random(97) >= backpressure).tolist() if backpressure > 0 else []
    gap_list = (rng.geometric(1 - gaps, size=31) - 1).tolist() if gaps > 0 else []
    return Case(name or f"random-{seed}", int(seed), encode(w).tolist(), [int(v) for v in x],
                ready, gap_list, list(reversed(gap_list)))


def extreme_cases(params: TernaryParams, *, rows=5, cols=None) -> list:
    """The corner cases: activations all at the most negative value with weights all +1 and
    all -1 (largest magnitudes), all-zero weights (every lane gated), a single column, a single
    row, and one illegal code."""
    cols = cols or min(params.max_cols, 2 * params.lanes + 1)
    rows = min(rows, params.max_rows)
    neg = -(2 ** (params.act_width - 1))
    pos = 2 ** (params.act_width - 1) - 1
    full = lambda v: np.full((rows, cols), v)
    out = [
        ("all-neg-plus1", full(1), [neg] * cols),
        ("all-neg-minus1", full(-1), [neg] * cols),
        ("all-pos-plus1", full(1), [pos] * cols),
        ("all-zero-weights", full(0), [neg] * cols),
        ("cols-1", np.array([[1], [-1], [0]])[: rows], [neg]),
        ("rows-1", np.full((1, cols), -1), [neg] * cols),
        ("rows-1-cols-1", np.array([[-1]]), [neg]),
    ]
    cases = [Case(n, 0, encode(w).tolist(), list(x), [], [], []) for n, w, x in out]
    bad = encode(full(1))
    bad[rows // 2, cols // 2] = 0b10
    cases.append(Case("illegal-code", 0, bad.tolist(), [pos] * cols, [], [], []))
    if params.max_rows >= rows and params.max_cols >= cols:
        # The largest shape, at the extreme values, with heavy back-pressure.
        big = encode(np.full((params.max_rows, params.max_cols), -1)).tolist()
        cases.append(Case("max-shape-backpressure", 0, big, [neg] * params.max_cols,
                          [True, False, False], [], []))
    return cases


def pack_cmd(rows, cols, params: TernaryParams) -> int:
    """``{rows, cols}`` packed as the command payload (rows in the low bits)."""
    return rows | (cols << params.max_rows.bit_length())


def pack_lanes(values, width, lanes) -> int:
    """Little-endian pack of up to ``lanes`` ``width``-bit fields (two's complement)."""
    word = 0
    mask = (1 << width) - 1
    for i, v in enumerate(values[:lanes]):
        word |= (int(v) & mask) << (i * width)
    return word


@dataclass
class Outcome:
    """What the unit did for one case."""

    name: str
    y: list
    cycles: int
    result_cycles: list
    gated: int
    error: int


class TernaryBench:
    """Runs cases back to back on the unit, one cycle per :meth:`inputs`/:meth:`outputs` pair.

    Each cycle the caller drives the values of :meth:`inputs` (a dict by Verilog port name),
    lets the combinational logic settle, samples every name in :data:`OUTPUTS` and passes them
    to :meth:`outputs`. ``gated`` and ``error`` are read in the cycle of the last result (every
    weight beat was accepted at least the pipeline latency earlier). When :attr:`done`, :attr:`outcomes` holds one :class:`Outcome` per case.
    """

    def __init__(self, params: TernaryParams, cases):
        self.params = params
        self.cases = list(cases)
        self.outcomes = []
        self.cycle = 0
        self._k = -1
        self._next_case()

    def _next_case(self):
        self._k += 1
        self.cmd = StreamSource()
        if self._k >= len(self.cases):
            return
        case = self.cases[self._k]
        p = self.params
        self.case = case
        self.cmd.arm([pack_cmd(case.rows, case.cols, p)], self.cycle)
        self.act = StreamSource(case.act_gaps)
        self.weight = StreamSource(case.weight_gaps)
        self.result = StreamSink(case.ready)
        self.c0 = None

    @property
    def done(self):
        return self._k >= len(self.cases)

    def inputs(self) -> dict:
        c = self.cycle
        cv, cp = self.cmd.drive(c)
        if self.c0 is None:
            av = ap = wv = wp = 0
            rr = 0
        else:
            (av, ap), (wv, wp) = self.act.drive(c), self.weight.drive(c)
            rr = self.result.drive(c)
        return {"cmd__valid": cv, "cmd__payload": cp, "act__valid": av, "act__payload": ap,
                "weight__valid": wv, "weight__payload": wp, "result__ready": rr}

    def outputs(self, out: dict):
        c = self.cycle
        case, p = self.case, self.params
        if self.c0 is None:
            if self.cmd.observe(c, out["cmd__ready"]):
                self.c0 = c
                P, A = p.lanes, p.act_width
                acts = [pack_lanes(case.x[i:i + P], A, P) for i in range(0, case.cols, P)]
                weights = [pack_lanes(r[i:i + P], 2, P) for r in case.codes for i in range(0, case.cols, P)]
                self.act.arm(acts, c)
                self.weight.arm(weights, c)
                self.result.arm(c)
        else:
            self.act.observe(c, out["act__ready"])
            self.weight.observe(c, out["weight__ready"])
            self.result.observe(c, out["result__valid"], out["result__payload"])
            if len(self.result.payloads) == case.rows:
                self.outcomes.append(Outcome(
                    case.name, list(self.result.payloads), c - self.c0 + 1,
                    [t - self.c0 for t in self.result.transfer_cycles],
                    int(out["gated"]), int(out["error"])))
                self.cycle += 1
                self._next_case()
                return
        self.cycle += 1


def check(case: Case, outcome: Outcome, params: TernaryParams) -> dict:
    """Compare one outcome with the golden model; a flat dict of expectations and verdicts."""
    ref = matvec(np.array(case.codes), np.array(case.x), params)
    trace = simulate_cycles(case.rows, case.cols, params.lanes, result_ready=case.ready or None,
                            act_gaps=case.act_gaps or None, weight_gaps=case.weight_gaps or None)
    return {
        "name": case.name, "seed": case.seed, "rows": case.rows, "cols": case.cols,
        "rtl_cycles": outcome.cycles, "sim_cycles": trace.cycles,
        "outputs_match": [int(v) for v in ref.y] == [int(v) for v in outcome.y],
        "cycles_match": trace.cycles == outcome.cycles
        and tuple(trace.result_cycles) == tuple(outcome.result_cycles),
        "gated_match": ref.gated_lanes == outcome.gated,
        "error_match": int(ref.error) == outcome.error,
        "stall_cycles": trace.stall_cycles,
    }
