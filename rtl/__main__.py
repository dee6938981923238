"""``python -m rtl``: check the ternary unit against the simulator, or synthesise it.

``python -m rtl check --lanes P --rows R --cols C --seed S --format json`` builds the unit with
Verilator (or reuses the cached build), runs one random product from seed ``S`` under cocotb
with random back-pressure on the result stream, and prints ``{"lanes", "rows", "cols", "seed",
"rtl_cycles", "sim_cycles", "outputs_match", "cycles_match"}``; the exit status is 1 when the
results (values, gated-lane count, error flag) or the cycle count differ from ``sim.ternary``.

``python -m rtl synth --lanes P`` synthesises the unit with Yosys and prints its cells,
flip-flops and estimated 45 nm area (see ``rtl.synth``).

Bad input: one line on stderr and exit status 2. Flags are read strictly (ASCII digits, in
range: ``--lanes`` 1..1024, ``--rows``/``--cols``/``--max-*`` up to 2^20, ``--act-width``
2..32, ``--backpressure`` in [0, 1)).
"""

from __future__ import annotations

import json
import sys

from arch.cliargs import OneLineParser, int_arg, number_arg
from arch.errors import AccelError, one_line

#: Caps on the build parameters (a Verilator or Yosys build beyond them would not finish).
MAX_LANES, MAX_SIDE, MAX_ACT_WIDTH = 1024, 1 << 20, 32


def _parser():
    ap = OneLineParser(prog="python -m rtl", description=__doc__.split("\n\n")[0])
    lanes, side, width = int_arg(1, MAX_LANES), int_arg(1, MAX_SIDE), int_arg(2, MAX_ACT_WIDTH)
    sub = ap.add_subparsers(dest="command", required=True)
    ck = sub.add_parser("check", help="simulate one random product on Verilator and compare with the model")
    ck.add_argument("--lanes", type=lanes, required=True, help=f"lanes P (1..{MAX_LANES})")
    ck.add_argument("--rows", type=side, required=True, help="matrix rows")
    ck.add_argument("--cols", type=side, required=True, help="matrix columns")
    ck.add_argument("--seed", type=int_arg(0, 2 ** 63 - 1), default=0, help="seed of weights, activations and back-pressure")
    ck.add_argument("--backpressure", type=number_arg(0.0, 1.0), default=0.25,
                    help="probability that the result stream is not ready in a cycle (default 0.25)")
    ck.add_argument("--act-width", type=width, default=8, help=f"activation bits (2..{MAX_ACT_WIDTH}, default 8)")
    ck.add_argument("--max-rows", type=side, default=None, help="build parameter (default max(1024, rows))")
    ck.add_argument("--max-cols", type=side, default=None, help="build parameter (default max(1024, cols))")
    ck.add_argument("--build-dir", default=None, help="where builds are cached (default: user cache dir)")
    ck.add_argument("--waves", metavar="DIR", default=None,
                    help="keep the waveform (DIR/dump.vcd), the cases and the simulator log in DIR")
    ck.add_argument("--format", choices=("json", "text"), default="text")
    sy = sub.add_parser("synth", help="synthesise with Yosys and print cells, flip-flops and area")
    sy.add_argument("--lanes", type=lanes, required=True, help=f"lanes P (1..{MAX_LANES})")
    sy.add_argument("--act-width", type=width, default=8, help=f"activation bits (2..{MAX_ACT_WIDTH}, default 8)")
    sy.add_argument("--max-rows", type=side, default=4096, help="build parameter (default 4096)")
    sy.add_argument("--max-cols", type=side, default=512,
                    help="build parameter; sizes the activation buffer (default 512)")
    sy.add_argument("--format", choices=("json", "text"), default="text")
    return ap


def _check(args) -> tuple[dict, int]:
    from rtl.bench.ternary import random_case
    from rtl.runner import run_cases
    from sim.ternary import TernaryParams, check_shape

    if not 0.0 <= args.backpressure < 1.0:
        raise AccelError(f"'--backpressure' must be a probability in [0, 1), not {args.backpressure}")
    params = TernaryParams(lanes=args.lanes, act_width=args.act_width,
                           max_rows=args.max_rows if args.max_rows is not None else max(1024, args.rows),
                           max_cols=args.max_cols if args.max_cols is not None else max(1024, args.cols))
    check_shape(args.rows, args.cols, params)
    case = random_case(args.seed, params, rows=args.rows, cols=args.cols,
                       backpressure=args.backpressure, name=f"check-seed-{args.seed}")
    verdict = run_cases(params, [case], build_dir=args.build_dir, work_dir=args.waves,
                        waves=args.waves is not None)[0]
    outputs_ok = verdict["outputs_match"] and verdict["gated_match"] and verdict["error_match"]
    rec = {"lanes": params.lanes, "rows": args.rows, "cols": args.cols, "seed": args.seed,
           "rtl_cycles": verdict["rtl_cycles"], "sim_cycles": verdict["sim_cycles"],
           "outputs_match": bool(outputs_ok), "cycles_match": bool(verdict["cycles_match"])}
    return rec, 0 if (rec["outputs_match"] and rec["cycles_match"]) else 1


def _synth(args) -> tuple[dict, int]:
    from rtl.synth import synthesize

    stats = synthesize(lanes=args.lanes, act_width=args.act_width, max_rows=args.max_rows,
                       max_cols=args.max_cols)
    return stats.record(), 0


def main(argv=None) -> int:
    """Run the command line; returns the exit status (2 on bad input, one line on stderr)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:       # a usage error (one line) or --help
        return exc.code if isinstance(exc.code, int) else 2
    try:
        rec, status = (_check if args.command == "check" else _synth)(args)
    except AccelError as exc:
        print(f"python -m rtl {args.command}: {one_line(exc)}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(rec))
    else:
        for key, value in rec.items():
            if key == "cells_by_type":
                value = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
            print(f"{key}: {value}")
    return status


if __name__ == "__main__":
    sys.exit(main())
