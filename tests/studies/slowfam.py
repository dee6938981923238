"""A workload family for testing the sweep machinery: each point takes ``delay`` seconds and
appends its parameters to the file named by ``log`` (so tests can count evaluations)."""

import json
import os
import time

from arch.errors import WorkloadError

WORKLOAD_KEYS = {"x", "y", "delay", "log"}
DEFAULTS = [{"x": "1"}]


def evaluate(arch, params, engine, trace=None):
    x = params.get("x", "0")
    if not x.lstrip("-").isdigit():
        raise WorkloadError(f"'x' must be an integer, not {x!r}")
    time.sleep(float(params.get("delay", "0")))
    if "log" in params:
        with open(params["log"], "a") as fh:
            fh.write(json.dumps({"x": x, "y": params.get("y"), "pid": os.getpid()}) + "\n")
    x = int(x)
    y = int(params.get("y", "1"))
    return {
        "x": x,
        "y": y,
        "cycles": x * y,
        "seconds": x * y * 1e-9,
        "energy_pj": 2.0 * x + y,
        "energy_breakdown": {"pe": 2.0 * x, "dram": float(y)},
        "utilization": {"pe": 0.5},
        "engine": engine,
    }
