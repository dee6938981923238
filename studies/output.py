"""Records to tables and files: table, CSV, JSON, Parquet.

JSON keeps nested dicts (``energy_breakdown``, ``utilization``); table, CSV and Parquet
flatten them into dotted column names (``utilization.2d``).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

FORMATS = ("table", "csv", "json", "parquet")

# Columns a table shows first, when present; the rest follow in record order.
_LEAD = ["arch", "workload", "config", "model", "seq_len", "scope", "kernel", "matrix", "engine"]
_TABLE_HIDE_PREFIXES = ("energy_breakdown.",)


def flatten(record: dict, prefix: str = "") -> dict:
    """Nested dicts become dotted keys; lists become JSON text."""
    out = {}
    for k, v in record.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        elif isinstance(v, (list, tuple)):
            out[name] = json.dumps(v)
        else:
            out[name] = v
    return out


def to_frame(records):
    import pandas as pd

    flat = [flatten(r) for r in records]
    cols = []
    for r in flat:
        for k in r:
            if k not in cols:
                cols.append(k)
    lead = [c for c in _LEAD if c in cols]
    cols = lead + [c for c in cols if c not in lead]
    return pd.DataFrame(flat, columns=cols)


def render(records, fmt: str) -> str:
    """Text of the records in ``fmt`` (table, csv or json)."""
    if fmt == "json":
        return json.dumps(records, indent=1, default=_default)
    df = to_frame(records)
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "table":
        if df.empty:
            return "(no design points)"
        df = df[[c for c in df.columns if not c.startswith(_TABLE_HIDE_PREFIXES)]]
        head = ""
        if len(df) > 1:
            # Columns with one value in every row become a header line: the table keeps
            # only what varies across the sweep.
            same = [c for c in df.columns if df[c].astype(str).nunique(dropna=False) == 1]
            if same and len(same) < len(df.columns):
                head = "  ".join(f"{c}={_fmt_cell(df[c].iloc[0])}" for c in same) + "\n"
                df = df.drop(columns=same)
        return head + df.to_string(index=False, float_format=_fmt_float)
    raise ValueError(f"format {fmt!r} has no text form")


def write(records, fmt: str, path) -> None:
    """Write records to ``path`` atomically (a temporary file renamed into place), created with
    the user's umask like any other file (mode 0666 before the umask)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        if fmt == "parquet":
            to_frame(records).to_parquet(tmp, index=False)
        else:
            tmp.write_text(render(records, fmt) + "\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _fmt_cell(x) -> str:
    return _fmt_float(x) if isinstance(x, float) else str(x)


def _fmt_float(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 1e-3:
        return f"{x:.4g}"
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _default(obj):
    try:
        return obj.item()  # numpy scalar
    except AttributeError:
        return str(obj)
