"""The ternary MatMul-free matrix-vector unit as a golden model: values and cycles.

Hardware terms: ``P`` lanes each hold one signed activation (``act_width`` bits, int8 by
default) and receive one 2-bit weight per cycle; a lane passes ``+x``, ``-x`` or nothing
(01 = +1, 11 = -1, 00 = 0; 10 is illegal and raises the error flag), a registered adder tree
of ``ceil(log2 P)`` levels sums the lanes, and an accumulator adds one beat (a chunk of ``P``
columns) per cycle until a row is complete, then hands the row's sum to the result stream.
The activation vector is loaded once per matrix-vector product into an on-chip buffer, ``P``
values per beat; weights stream in row-major order, ``P`` per beat, ``ceil(cols / P)`` beats
per row (the last beat of a row is padded: lanes past ``cols`` are ignored).

Two views of the same unit, both used as the reference for the Amaranth design in
``rtl/ternary.py``:

* the functional model :func:`matvec` (bit-exact: the full-width sum, or the saturating
  accumulator when ``acc_width`` is given, plus the count of zero-gated lanes and the error
  flag);
* the cycle model :class:`TernaryTiming` (closed form with no stalls) and
  :func:`simulate_cycles` (a cycle-by-cycle model of the pipeline's occupancy, exact under
  input gaps and result back-pressure).

Cycle convention: cycle 0 is the cycle in which the command (rows, cols) is accepted; the count
ends with the cycle in which the last result is accepted, inclusive. Without stalls a product
takes ``(rows + 1) * ceil(cols / P) + ceil(log2 P) + 3`` cycles: ``ceil(cols / P)`` activation
beats, ``rows * ceil(cols / P)`` weight beats at one per cycle (initiation interval 1), then the
pipeline latency (lane register, tree levels, output register) and the final handshake. A
result that waits for ``ready`` stalls the whole pipeline (a global clock-enable), so every
cycle in which the result is valid and not ready adds exactly one cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arch.errors import SpecError, WorkloadError

#: 2-bit weight codes (the ternip convention, docs/sources.md#ternip).
CODE_ZERO, CODE_PLUS, CODE_ILLEGAL, CODE_MINUS = 0b00, 0b01, 0b10, 0b11


def _check_int(problems, name, value, rule, ok):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not ok(value):
        problems.append(("", f"'{name}' must be {rule}, not {value!r}"))


@dataclass(frozen=True)
class TernaryParams:
    """Build-time parameters of the unit (keyword-only, validated together).

    Attributes
    ----------
    lanes : int
        ``P``, lanes (weights and activations per beat); any positive integer.
    act_width : int
        Activation width in bits (signed two's complement), >= 2.
    max_rows, max_cols : int
        Largest matrix the unit accepts; ``max_cols`` sizes the activation buffer
        (``ceil(max_cols / P)`` words of ``P * act_width`` bits) and the accumulator.
    acc_width : int or None
        None: the accumulator is wide enough never to overflow (:attr:`full_acc_width` bits).
        An integer: a saturating accumulator of that many bits (>= ``act_width + 1``) that
        clamps the running sum after every beat.
    """

    lanes: int
    act_width: int = 8
    max_rows: int = 4096
    max_cols: int = 4096
    acc_width: int | None = None

    def __init__(self, *, lanes, act_width=8, max_rows=4096, max_cols=4096, acc_width=None):
        problems = []
        _check_int(problems, "lanes", lanes, "a positive integer", lambda v: v >= 1)
        _check_int(problems, "act_width", act_width, "an integer >= 2", lambda v: v >= 2)
        _check_int(problems, "max_rows", max_rows, "a positive integer", lambda v: v >= 1)
        _check_int(problems, "max_cols", max_cols, "a positive integer", lambda v: v >= 1)
        if acc_width is not None:
            aw = act_width if isinstance(act_width, int) else 8
            _check_int(problems, "acc_width", acc_width, f"None or an integer >= act_width + 1 = {aw + 1}",
                       lambda v: v >= aw + 1)
        if problems:
            raise SpecError(problems)
        for k, v in dict(lanes=lanes, act_width=act_width, max_rows=max_rows, max_cols=max_cols,
                         acc_width=acc_width).items():
            object.__setattr__(self, k, None if v is None else int(v))

    @property
    def full_acc_width(self) -> int:
        """Signed bits that hold any sum of ``max_cols`` terms ``+-x`` (|x| <= 2**(A-1))."""
        return (self.max_cols * 2 ** (self.act_width - 1)).bit_length() + 1

    @property
    def result_width(self) -> int:
        """Signed bits of a result: ``acc_width`` if saturating, else :attr:`full_acc_width`."""
        return self.acc_width if self.acc_width is not None else self.full_acc_width

    @property
    def saturating(self) -> bool:
        return self.acc_width is not None


@dataclass(frozen=True)
class MatvecResult:
    """What the unit returns for one product: ``y`` (int64, one per row), the number of lanes
    gated by a zero weight (lanes past ``cols`` in a padded beat are not counted), and the
    sticky error flag (an illegal code 10 was seen in a lane within ``cols``)."""

    y: np.ndarray
    gated_lanes: int
    error: bool


def encode(weights) -> np.ndarray:
    """Ternary values {-1, 0, +1} -> 2-bit codes (uint8). Other values: :class:`WorkloadError`."""
    w = np.asarray(weights)
    if not np.isin(w, (-1, 0, 1)).all():
        bad = w[~np.isin(w, (-1, 0, 1))].flat[0].item()
        raise WorkloadError(f"'weights' must be ternary (-1, 0, +1), not {bad!r}")
    codes = np.zeros(w.shape, dtype=np.uint8)
    codes[w == 1] = CODE_PLUS
    codes[w == -1] = CODE_MINUS
    return codes


def decode(codes) -> tuple[np.ndarray, np.ndarray]:
    """2-bit codes -> (ternary int8 values, boolean mask of illegal codes). Illegal -> 0."""
    c = np.asarray(codes)
    if c.size and (c.min() < 0 or c.max() > 3):
        raise WorkloadError(f"'codes' must be 2-bit values 0..3, not {int(c.max()) if c.max() > 3 else int(c.min())}")
    values = np.zeros(c.shape, dtype=np.int8)
    values[c == CODE_PLUS] = 1
    values[c == CODE_MINUS] = -1
    return values, c == CODE_ILLEGAL


def matvec(codes, x, params: TernaryParams) -> MatvecResult:
    """Bit-exact result of the unit for weight codes ``codes`` [rows, cols] and activations ``x``.

    Parameters
    ----------
    codes : array of int, shape (rows, cols)
        2-bit weight codes (see :func:`encode`).
    x : array of int, shape (cols,)
        Signed activations in the range of ``params.act_width`` bits.
    params : TernaryParams

    Returns
    -------
    MatvecResult
    """
    c = np.asarray(codes)
    xv = np.asarray(x)
    if c.ndim != 2:
        raise WorkloadError(f"'codes' must be a 2-D array (rows, cols), not shape {c.shape}")
    rows, cols = c.shape
    check_shape(rows, cols, params)
    if xv.shape != (cols,):
        raise WorkloadError(f"'x' must have shape ({cols},), not {xv.shape}")
    lo, hi = -(2 ** (params.act_width - 1)), 2 ** (params.act_width - 1) - 1
    if xv.size and (xv.min() < lo or xv.max() > hi):
        bad = int(xv.min()) if xv.min() < lo else int(xv.max())
        raise WorkloadError(f"'x' must hold {params.act_width}-bit signed values ({lo}..{hi}), not {bad}")
    w, illegal = decode(c)
    xv = xv.astype(np.int64)
    gated = int((c == CODE_ZERO).sum())
    if not params.saturating:
        y = w.astype(np.int64) @ xv
    else:
        lim_hi = 2 ** (params.acc_width - 1) - 1
        lim_lo = -(2 ** (params.acc_width - 1))
        p = params.lanes
        y = np.zeros(rows, dtype=np.int64)
        for start in range(0, cols, p):
            beat = w[:, start:start + p].astype(np.int64) @ xv[start:start + p]
            y = np.clip(y + beat, lim_lo, lim_hi)
    return MatvecResult(y=y, gated_lanes=gated, error=bool(illegal.any()))


def check_shape(rows, cols, params: TernaryParams):
    """:class:`WorkloadError` unless 1 <= rows <= max_rows and 1 <= cols <= max_cols."""
    for name, v, hi in (("rows", rows, params.max_rows), ("cols", cols, params.max_cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= hi:
            raise WorkloadError(f"'{name}' must be an integer in 1..{hi} (max_{name}), not {v!r}")


@dataclass(frozen=True)
class TernaryTiming:
    """Closed-form cycle model of the unit with ``lanes`` lanes and no stalls.

    Attributes
    ----------
    lanes : int
    """

    lanes: int

    @property
    def tree_depth(self) -> int:
        """Registered adder-tree levels, ``ceil(log2 P)`` (0 for one lane)."""
        return (self.lanes - 1).bit_length()

    @property
    def latency_cycles(self) -> int:
        """Cycles from a weight beat's handshake to its row's result being valid (if it is
        the row's last beat): lane register, tree levels, output register."""
        return self.tree_depth + 2

    @property
    def initiation_interval(self) -> int:
        """Cycles between weight beats in steady state (one beat of ``P`` weights per cycle)."""
        return 1

    def chunks(self, cols: int) -> int:
        """Beats per row (and activation beats per product), ``ceil(cols / P)``."""
        return -(-cols // self.lanes)

    def cycles(self, rows: int, cols: int) -> int:
        """Cycles of one rows x cols product, command to last result inclusive, no stalls."""
        return (rows + 1) * self.chunks(cols) + self.latency_cycles + 1

    def weight_beats(self, rows: int, cols: int) -> int:
        return rows * self.chunks(cols)


@dataclass(frozen=True)
class CycleTrace:
    """Outcome of :func:`simulate_cycles`: total cycles (command cycle to last result, inclusive),
    the cycle of every result handshake, and the cycles lost to back-pressure stalls."""

    cycles: int
    result_cycles: tuple
    stall_cycles: int


def _pattern(p, default=True):
    if p is None:
        return lambda c: default
    if callable(p):
        return p
    seq = list(p)
    return lambda c: bool(seq[c % len(seq)]) if seq else default


def _gaps(g):
    if g is None:
        return lambda k: 0
    if callable(g):
        return g
    seq = list(g)
    return lambda k: int(seq[k % len(seq)]) if seq else 0


def simulate_cycles(rows: int, cols: int, lanes: int, *, result_ready=None, act_gaps=None,
                    weight_gaps=None, max_cycles: int = 10_000_000) -> CycleTrace:
    """Cycle-by-cycle occupancy model of one product, exact under stalls.

    Parameters
    ----------
    rows, cols, lanes : int
    result_ready : callable(cycle) -> bool, or sequence of bool (repeated), optional
        The consumer's ``ready`` in each cycle (cycle 0 = command accepted); default always.
    act_gaps, weight_gaps : callable(beat) -> int, or sequence of int (repeated), optional
        Idle cycles the producer inserts before offering each beat: beat ``k`` is valid from
        cycle ``h + 1 + gap(k)`` until accepted, ``h`` being the handshake cycle of beat
        ``k - 1`` (the command's cycle for ``k = 0``). Default 0 (always valid).
    max_cycles : int
        Refuse (SimulationError) to run longer than this.

    Returns
    -------
    CycleTrace
    """
    from arch.errors import SimulationError

    t = TernaryTiming(lanes)
    ready, agap, wgap = _pattern(result_ready), _gaps(act_gaps), _gaps(weight_gaps)
    n_chunks = t.chunks(cols)
    n_w = rows * n_chunks
    pipe = [None] * (t.tree_depth + 1)  # per stage: None (bubble) or True/False (row's last beat?)
    state = "LOAD"
    out_valid = False
    act_done = w_done = res_done = 0
    act_offer = 1 + agap(0)
    w_offer = 1 + wgap(0)
    chunk = 0
    results, stalls = [], 0
    c = 0
    while True:
        c += 1
        if c > max_cycles:
            raise SimulationError(f"ternary cycle model: more than {max_cycles} cycles (result never ready?)")
        rdy = bool(ready(c))
        advance = (not out_valid) or rdy
        out_hs = out_valid and rdy
        act_hs = state == "LOAD" and c >= act_offer
        w_hs = state == "RUN" and advance and c >= w_offer
        if out_valid and not rdy:
            stalls += 1
        if out_hs:
            results.append(c)
            res_done += 1
            if res_done == rows:
                return CycleTrace(cycles=c + 1, result_cycles=tuple(results), stall_cycles=stalls)
        if act_hs:
            act_done += 1
            act_offer = c + 1 + agap(act_done)
            if act_done == n_chunks:
                state = "RUN"
        if advance:
            out_valid = pipe[-1] is True
            beat = None
            if w_hs:
                chunk += 1
                beat = chunk == n_chunks
                if beat:
                    chunk = 0
                w_done += 1
                w_offer = c + 1 + wgap(w_done)
                if w_done == n_w:
                    state = "DRAIN"
            pipe = [beat] + pipe[:-1]
