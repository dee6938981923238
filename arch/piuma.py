"""The PIUMA-like many-threaded graph machine as a typed, frozen spec.

In hardware terms (Intel PIUMA, arXiv 2010.06277; Hot Chips 2023): a die of ``cores`` cores;
each core has ``mtp`` multi-threaded pipelines (in-order, fine-grained multithreading: each
cycle one ready thread of the pipeline issues one instruction) of ``threads_per_mtp`` threads,
plus ``stp`` single-threaded pipelines; a software-managed scratchpad SRAM per core reached
through ``ports`` 8-byte ports and globally addressable by every core over the on-die network;
small per-pipeline caches; an atomic offload unit per core that executes compare-and-swap and
fetch-and-add next to memory; and DRAM accessed at an 8-byte granularity (no cache-line
over-fetch).

Published facts carry their source; every latency, bandwidth not published and every energy is
an assumption with its reasoning in a comment, because Intel has published none of them
(REFERENCE.md section 3). The YAML layout (``kind: piuma``) is::

    clock_mhz, core.{count, mtp, threads_per_mtp, stp},
    scratchpad.{size_kb, ports, access_bytes, latency_cycles, table_fraction},
    cache.{icache_kb, dcache_kb},            # per pipeline
    dram.{gbps, access_bytes, latency_cycles},
    atomics.{per_cycle, latency_cycles},     # per core (the offload unit)
    network.{latency_cycles, link_gbps, optical_ports, optical_port_gbps},
    energy_pj.{instruction, flop, spad_access, atomic, dram_access, network_access}

Units: MHz, KiB, bytes, GB/s (1e9 bytes per second), cycles (integers), pJ per action.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from arch.errors import SpecError

# section -> field -> (type, rule) ; rule "pos" = > 0, "nonneg" = >= 0, "frac" = in (0, 1]
_SCHEMA = {
    "core": {"count": (int, "pos"), "mtp": (int, "nonneg"), "threads_per_mtp": (int, "pos"), "stp": (int, "nonneg")},
    "scratchpad": {"size_kb": (int, "pos"), "ports": (int, "pos"), "access_bytes": (int, "pos"),
                   "latency_cycles": (int, "pos"), "table_fraction": (float, "frac")},
    "cache": {"icache_kb": (int, "nonneg"), "dcache_kb": (int, "nonneg")},
    "dram": {"gbps": (float, "pos"), "access_bytes": (int, "pos"), "latency_cycles": (int, "pos")},
    "atomics": {"per_cycle": (float, "pos"), "latency_cycles": (int, "pos")},
    "network": {"latency_cycles": (int, "pos"), "link_gbps": (float, "pos"), "optical_ports": (int, "nonneg"),
                "optical_port_gbps": (float, "nonneg")},
    "energy_pj": {"instruction": (float, "nonneg"), "flop": (float, "nonneg"), "spad_access": (float, "nonneg"),
                  "atomic": (float, "nonneg"), "dram_access": (float, "nonneg"), "network_access": (float, "nonneg")},
}
_TOP = {"kind", "description", "clock_mhz"} | set(_SCHEMA)

#: Short override names (``--set cores=16``) -> dotted key paths.
SHORT_NAMES = {
    "cores": "core.count",
    "mtp": "core.mtp",
    "threads": "core.threads_per_mtp",
    "stp": "core.stp",
    "spad_kb": "scratchpad.size_kb",
    "spad_ports": "scratchpad.ports",
    "dram_gbps": "dram.gbps",
    "dram_latency": "dram.latency_cycles",
    "atomics_per_cycle": "atomics.per_cycle",
    "clock_mhz": "clock_mhz",
}


@dataclass(frozen=True)
class PiumaSpec:
    """A PIUMA-like machine. Fields are flat and carry their units in their names."""

    name: str
    description: str
    clock_mhz: float
    cores: int
    mtp_per_core: int
    threads_per_mtp: int
    stp_per_core: int
    spad_bytes_per_core: int
    spad_ports: int
    spad_access_bytes: int
    spad_latency_cycles: int
    table_fraction: float
    icache_bytes: int
    dcache_bytes: int
    dram_bw_bytes_per_cycle: float
    dram_access_bytes: int
    dram_latency_cycles: int
    atomics_per_cycle: float
    atomic_latency_cycles: int
    net_latency_cycles: int
    net_link_bytes_per_cycle: float
    optical_ports: int
    optical_port_gbps: float
    energy_pj: dict

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    @property
    def pipelines_per_core(self) -> int:
        return self.mtp_per_core + self.stp_per_core

    @property
    def threads_per_core(self) -> int:
        return self.mtp_per_core * self.threads_per_mtp + self.stp_per_core

    @property
    def threads(self) -> int:
        return self.cores * self.threads_per_core

    @property
    def table_bytes_per_thread(self) -> int:
        """Scratchpad bytes one thread may use for its hash table (its slice of the table area)."""
        return int(self.spad_bytes_per_core * self.table_fraction) // self.threads_per_core


def _set_path(data: dict, path: str, value):
    parts = path.split(".")
    node = data
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value


def _coerce(value, typ):
    """Accept numbers given as strings on the command line ("16", "2.5e2")."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if typ is int:
        return int(value) if float(value).is_integer() else None
    return float(value)


def validate_piuma(data: dict) -> list:
    """Every problem of a raw ``kind: piuma`` mapping as (key path, message); empty if valid."""
    problems = []
    for key in data:
        if key not in _TOP:
            problems.append((str(key), f"unknown key (allowed: {', '.join(sorted(_TOP))})"))
    if not isinstance(data.get("description", ""), str):
        problems.append(("description", f"'description' must be a string, not {data.get('description')!r}"))
    if "clock_mhz" not in data:
        problems.append(("clock_mhz", "missing"))
    else:
        v = _coerce(data["clock_mhz"], float)
        if v is None or v <= 0:
            problems.append(("clock_mhz", f"'clock_mhz' must be a positive number, not {data['clock_mhz']!r}"))
    for sec, fields in _SCHEMA.items():
        node = data.get(sec)
        if not isinstance(node, dict):
            problems.append((sec, f"'{sec}' must be a mapping with keys {', '.join(fields)}, not {node!r}"))
            continue
        for key in node:
            if key not in fields:
                problems.append((f"{sec}.{key}", f"unknown key (allowed: {', '.join(fields)})"))
        for key, (typ, rule) in fields.items():
            path = f"{sec}.{key}"
            if key not in node:
                problems.append((path, "missing"))
                continue
            v = _coerce(node[key], typ)
            noun = "integer" if typ is int else "number"
            ok = v is not None and {"pos": lambda x: x > 0, "nonneg": lambda x: x >= 0,
                                    "frac": lambda x: 0 < x <= 1}[rule](v)
            if not ok:
                what = {"pos": f"a positive {noun}", "nonneg": f"a non-negative {noun}",
                        "frac": "a number in (0, 1]"}[rule]
                problems.append((path, f"'{key}' must be {what}, not {node[key]!r}"))
    core = data.get("core")
    if isinstance(core, dict) and not problems:
        if _coerce(core["mtp"], int) + _coerce(core["stp"], int) < 1:
            problems.append(("core", "'mtp + stp' must be at least 1 pipeline per core, not 0"))
    return problems


def build_piuma(data: dict, name: str) -> PiumaSpec:
    """Construct the frozen spec from a mapping that :func:`validate_piuma` accepted."""
    g = lambda sec, key: _coerce(data[sec][key], _SCHEMA[sec][key][0])  # noqa: E731
    clock_mhz = float(_coerce(data["clock_mhz"], float))
    per_cycle = lambda gbps: gbps * 1e9 / (clock_mhz * 1e6)  # noqa: E731  GB/s -> bytes/cycle
    return PiumaSpec(
        name=name,
        description=str(data.get("description", "")),
        clock_mhz=clock_mhz,
        cores=g("core", "count"),
        mtp_per_core=g("core", "mtp"),
        threads_per_mtp=g("core", "threads_per_mtp"),
        stp_per_core=g("core", "stp"),
        spad_bytes_per_core=g("scratchpad", "size_kb") * 1024,
        spad_ports=g("scratchpad", "ports"),
        spad_access_bytes=g("scratchpad", "access_bytes"),
        spad_latency_cycles=g("scratchpad", "latency_cycles"),
        table_fraction=g("scratchpad", "table_fraction"),
        icache_bytes=g("cache", "icache_kb") * 1024,
        dcache_bytes=g("cache", "dcache_kb") * 1024,
        dram_bw_bytes_per_cycle=per_cycle(g("dram", "gbps")),
        dram_access_bytes=g("dram", "access_bytes"),
        dram_latency_cycles=g("dram", "latency_cycles"),
        atomics_per_cycle=g("atomics", "per_cycle"),
        atomic_latency_cycles=g("atomics", "latency_cycles"),
        net_latency_cycles=g("network", "latency_cycles"),
        net_link_bytes_per_cycle=per_cycle(g("network", "link_gbps")),
        optical_ports=g("network", "optical_ports"),
        optical_port_gbps=g("network", "optical_port_gbps"),
        energy_pj={k: g("energy_pj", k) for k in _SCHEMA["energy_pj"]},
    )


def piuma_from_dict(data: dict, source: str = "<dict>", overrides: dict | None = None) -> PiumaSpec:
    """Validate a ``kind: piuma`` mapping (after ``overrides``) and build its :class:`PiumaSpec`.

    Parameters
    ----------
    data : dict
        The parsed YAML document.
    source : str
        File name for messages.
    overrides : dict, optional
        Short names (:data:`SHORT_NAMES`: ``cores``, ``threads``, ``dram_gbps``, ``spad_kb``, ...)
        or dotted key paths (``dram.latency_cycles``) -> value, applied before validation.

    Raises
    ------
    SpecError
        Listing every problem with its key path.
    """
    if not isinstance(data, dict):
        raise SpecError([("", f"a piuma spec must be a mapping, not {type(data).__name__}")], source)
    data = copy.deepcopy(data)
    problems = []
    for key, value in (overrides or {}).items():
        path = SHORT_NAMES.get(key, key)
        top = path.split(".")[0]
        if top not in _TOP or top in ("kind", "description") or (top in _SCHEMA and "." not in path):
            problems.append((key, f"unknown override (short names: {', '.join(sorted(SHORT_NAMES))}; or a key path such as dram.gbps)"))
            continue
        _set_path(data, path, value)
    problems += validate_piuma(data)
    if problems:
        raise SpecError(problems, source)
    name = source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
    return build_piuma(data, name)
