"""The ternary MatMul-free matrix-vector unit, in Amaranth HDL.

Hardware: ``P`` lanes, each multiplying one signed activation by one 2-bit ternary weight
without a multiplier (a lane passes ``+x``, ``-x`` or zero: 01 = +1, 11 = -1, 00 = 0 and the
lane is gated; 10 is illegal and sets the sticky ``error`` flag), a registered adder tree of
``ceil(log2 P)`` levels (pairs summed per level, an odd element carried to the next level, so
any ``P`` works), and an accumulator that adds one beat of ``P`` columns per cycle and hands
each finished row to the result stream. The activation vector ``x`` is written once per
product into an on-chip buffer of ``ceil(max_cols / P)`` words of ``P * act_width`` bits; the
weights stream through row-major, ``P`` per beat, and are never stored.

Interfaces (``amaranth.lib.stream``, valid/ready):

``cmd``     in, payload ``{rows, cols}``: starts one ``rows x cols`` product. A shape outside
            ``1..max_rows`` x ``1..max_cols`` is refused: ``error`` is set and the unit stays idle.
``act``     in, ``ceil(cols / P)`` beats of ``P`` activations (lanes past ``cols`` ignored).
``weight``  in, ``rows * ceil(cols / P)`` beats of ``P`` 2-bit codes, row-major.
``result``  out, one signed value per row, in row order.
``gated``   out, lanes gated by a zero weight since the last command (lanes past ``cols`` in a
            padded beat are not counted).
``error``   out, sticky: an illegal weight code (within ``cols``) or a refused command; cleared
            by the next accepted command.
``busy``    out, a command is in progress.

Back-pressure: while a result is valid and not ready the whole pipeline holds (one clock
enable), so the unit stalls exactly one cycle per such cycle. The cycle model of the same
behaviour, and the convention for counting cycles, is ``sim.ternary``.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from arch.errors import SpecError
from sim.ternary import CODE_ILLEGAL, CODE_MINUS, CODE_PLUS, CODE_ZERO, TernaryParams, TernaryTiming


class TernaryUnit(wiring.Component):
    """Ternary matrix-vector unit with ``lanes`` lanes (see the module docstring).

    Parameters (keyword-only; validated together by :class:`sim.ternary.TernaryParams`, which
    raises one :class:`arch.errors.SpecError` listing every problem)
    ----------
    lanes : int
        ``P``, any positive integer.
    act_width : int
        Bits of a signed activation (8 for int8).
    max_rows, max_cols : int
        Largest product shape; sizes the counters, the activation buffer and the accumulator.
    acc_width : int or None
        None: a full-width accumulator that never overflows; an integer: a saturating
        accumulator of that many bits, clamped after every beat.
    """

    def __init__(self, *, lanes, act_width=8, max_rows=4096, max_cols=4096, acc_width=None):
        try:
            self.params = TernaryParams(lanes=lanes, act_width=act_width, max_rows=max_rows,
                                        max_cols=max_cols, acc_width=acc_width)
        except SpecError:
            self._MustUse__used = True   # a refused design was never meant to be elaborated
            raise
        self.timing = TernaryTiming(self.params.lanes)
        p = self.params
        self.cmd_layout = data.StructLayout({"rows": unsigned(bits_for(p.max_rows)),
                                             "cols": unsigned(bits_for(p.max_cols))})
        self.act_layout = data.ArrayLayout(signed(p.act_width), p.lanes)
        self.weight_layout = data.ArrayLayout(unsigned(2), p.lanes)
        super().__init__({
            "cmd": In(stream.Signature(self.cmd_layout)),
            "act": In(stream.Signature(self.act_layout)),
            "weight": In(stream.Signature(self.weight_layout)),
            "result": Out(stream.Signature(signed(p.result_width))),
            "gated": Out(bits_for(p.max_rows * p.max_cols)),
            "error": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        depth_words = self.timing.chunks(p.max_cols)
        buf = memory.Memory(shape=unsigned(p.lanes * p.act_width), depth=depth_words, init=[])
        m.submodules.act_buf = buf
        wr = buf.write_port()
        rd = buf.read_port(domain="comb")
        cols, addr, base, advance, last_chunk = self._control(m, wr, depth_words)
        m.d.comb += rd.addr.eq(addr)
        lanes, valid, last = self._lanes(m, rd.data, cols, base, advance, last_chunk)
        tree, valid, last = self._adder_tree(m, lanes, valid, last, advance)
        self._accumulate(m, tree, valid, last, advance)
        return m

    def _control(self, m, wr, depth_words):
        """The command FSM (IDLE, LOAD, RUN, DRAIN) that writes the activation buffer and walks
        the weight beats; returns ``cols``, the buffer address, the first column of the current
        beat, the datapath's clock enable and whether the beat is a row's last."""
        p = self.params
        P = p.lanes
        rows = Signal.like(self.cmd.payload.rows)
        cols = Signal.like(self.cmd.payload.cols)
        addr = Signal(range(max(depth_words, 2)))    # buffer word (activation load or weight chunk)
        base = Signal(range(p.max_cols + P + 1))     # first column of the current beat
        row = Signal(range(p.max_rows + 1))
        res_count = Signal(range(p.max_rows + 1))

        advance = Signal()                             # global clock enable of the datapath
        m.d.comb += advance.eq(~self.result.valid | self.result.ready)
        last_chunk = Signal()
        m.d.comb += last_chunk.eq(base + P >= cols)

        with m.FSM(name="state"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    r, c = self.cmd.payload.rows, self.cmd.payload.cols
                    legal = (r >= 1) & (r <= p.max_rows) & (c >= 1) & (c <= p.max_cols)
                    with m.If(legal):
                        m.d.sync += [rows.eq(r), cols.eq(c), addr.eq(0), base.eq(0), row.eq(0),
                                     res_count.eq(0), self.gated.eq(0), self.error.eq(0)]
                        m.next = "LOAD"
                    with m.Else():
                        m.d.sync += self.error.eq(1)
            with m.State("LOAD"):
                m.d.comb += [self.busy.eq(1), self.act.ready.eq(1),
                             wr.addr.eq(addr), wr.data.eq(self.act.payload.as_value()),
                             wr.en.eq(self.act.valid)]
                with m.If(self.act.valid):
                    with m.If(last_chunk):
                        m.d.sync += [addr.eq(0), base.eq(0)]
                        m.next = "RUN"
                    with m.Else():
                        m.d.sync += [addr.eq(addr + 1), base.eq(base + P)]
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), self.weight.ready.eq(advance)]
                with m.If(self.weight.valid & advance):
                    with m.If(last_chunk):
                        m.d.sync += [addr.eq(0), base.eq(0), row.eq(row + 1)]
                        with m.If(row == rows - 1):
                            m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += [addr.eq(addr + 1), base.eq(base + P)]
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.result.valid & self.result.ready & (res_count == rows - 1)):
                    m.next = "IDLE"

        with m.If(self.result.valid & self.result.ready):
            m.d.sync += res_count.eq(res_count + 1)
        return cols, addr, base, advance, last_chunk

    def _lanes(self, m, words, cols, base, advance, last_chunk):
        """Lanes: select +x / -x / 0 and register (pipeline stage 0); count gated lanes and
        flag illegal codes. Returns the lane registers and the stage's valid and last bits."""
        P, A = self.params.lanes, self.params.act_width
        x = data.ArrayLayout(signed(A), P)(words)
        w_hs = Signal()
        m.d.comb += w_hs.eq(self.weight.valid & self.weight.ready)
        lane_regs, zero_bits, bad_bits = [], [], []
        for i in range(P):
            code = self.weight.payload[i]
            inside = Signal(name=f"inside{i}")
            m.d.comb += inside.eq(base + i < cols)
            term = Signal(signed(A + 1), name=f"term{i}")
            m.d.comb += term.eq(Mux(inside & (code == CODE_PLUS), x[i],
                                    Mux(inside & (code == CODE_MINUS), -x[i], 0)))
            reg = Signal(signed(A + 1), name=f"lane{i}")
            with m.If(advance):
                m.d.sync += reg.eq(term)
            lane_regs.append(reg)
            zero_bits.append(inside & (code == CODE_ZERO))
            bad_bits.append(inside & (code == CODE_ILLEGAL))
        with m.If(w_hs):
            m.d.sync += self.gated.eq(self.gated + sum(zero_bits))
            with m.If(sum(bad_bits) != 0):
                m.d.sync += self.error.eq(1)
        valid = Signal(name="v0")
        last = Signal(name="l0")
        with m.If(advance):
            m.d.sync += [valid.eq(w_hs), last.eq(w_hs & last_chunk)]
        return lane_regs, valid, last

    @staticmethod
    def _adder_tree(m, level, valid, last, advance):
        """Registered adder tree, ``ceil(log2 P)`` levels; valid and last travel alongside.
        Returns the sum and the last level's valid and last bits."""
        k = 0
        while len(level) > 1:
            k += 1
            nxt = []
            for j in range(0, len(level) - 1, 2):
                a, b = level[j], level[j + 1]
                s = Signal(signed(max(a.shape().width, b.shape().width) + 1), name=f"t{k}_{j // 2}")
                with m.If(advance):
                    m.d.sync += s.eq(a + b)
                nxt.append(s)
            if len(level) % 2:
                a = level[-1]
                s = Signal(a.shape(), name=f"t{k}_{len(level) // 2}")
                with m.If(advance):
                    m.d.sync += s.eq(a)
                nxt.append(s)
            v, l_ = Signal(name=f"v{k}"), Signal(name=f"l{k}")
            with m.If(advance):
                m.d.sync += [v.eq(valid), l_.eq(last)]
            level, valid, last = nxt, v, l_
        return level[0], valid, last

    def _accumulate(self, m, tree, valid, last, advance):
        """Accumulator (saturating when ``acc_width`` is given) and the result register."""
        p = self.params
        acc = Signal(signed(p.result_width))
        total = Signal(signed(max(p.result_width, tree.shape().width) + 1))
        m.d.comb += total.eq(acc + tree)
        if p.saturating:
            hi, lo = 2 ** (p.acc_width - 1) - 1, -(2 ** (p.acc_width - 1))
            summed = Mux(total > hi, hi, Mux(total < lo, lo, total))
        else:
            summed = total
        with m.If(advance):
            m.d.sync += self.result.valid.eq(valid & last)
            with m.If(valid & last):
                m.d.sync += [self.result.payload.eq(summed), acc.eq(0)]
            with m.Elif(valid):
                m.d.sync += acc.eq(summed)
