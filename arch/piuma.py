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
(docs/sources.md#piuma). The YAML layout (``kind: piuma``) is::

    clock_mhz, core.{count, mtp, threads_per_mtp, stp},
    scratchpad.{size_kb, ports, access_bytes, latency_cycles, table_fraction},
    cache.{size_kb, ways, line_bytes, policy, gathers},   # per core; gathers: 1 reads B's rows through it
    dram.{gbps, access_bytes, latency_cycles},
    dma.requests_in_flight,                  # per thread: gathers overlapped by the DMA engine
    smash.windows,                           # 1: smash-v1 distributes windows of rows, 0: equal row blocks
    atomics.{per_cycle, latency_cycles},     # per core (the offload unit)
    network.{latency_cycles, link_gbps, optical_ports, optical_port_gbps},
    energy_pj.{instruction, flop, spad_access, atomic, dram_access, network_access}

Units: MHz, KiB, bytes, GB/s with GB = 2^30 bytes (the convention of every spec of the project,
the FuseMax artifact's: ``dram_gbps`` means the same on the piuma and the spatial presets),
cycles (integers), pJ per action.
"""

from __future__ import annotations

from dataclasses import dataclass

from arch.errors import SpecError
from arch.schema import FlatSchema, spec_name

#: Replacement policies of the per-core cache: least recently used, first in first out.
CACHE_POLICIES = ("lru", "fifo")

#: Bytes of the GB in every ``*gbps`` field (2^30, as ``dram_gbps`` of the spatial specs).
GB = 2 ** 30

# section -> field -> (type, rule); rules in arch.schema.RULES ("frac" is in (0, 1])
_SCHEMA = {
    "core": {"count": (int, "pos"), "mtp": (int, "nonneg"), "threads_per_mtp": (int, "pos"), "stp": (int, "nonneg")},
    "scratchpad": {"size_kb": (int, "pos"), "ports": (int, "pos"), "access_bytes": (int, "pos"),
                   "latency_cycles": (int, "pos"), "table_fraction": (float, "frac")},
    "cache": {"size_kb": (int, "pos"), "ways": (int, "pos"), "line_bytes": (int, "pos"), "gathers": (int, "nonneg")},
    "dram": {"gbps": (float, "pos"), "access_bytes": (int, "pos"), "latency_cycles": (int, "pos")},
    "dma": {"requests_in_flight": (int, "pos")},
    "smash": {"windows": (int, "nonneg")},
    "atomics": {"per_cycle": (float, "pos"), "latency_cycles": (int, "pos")},
    "network": {"latency_cycles": (int, "pos"), "link_gbps": (float, "pos"), "optical_ports": (int, "nonneg"),
                "optical_port_gbps": (float, "nonneg")},
    "energy_pj": {"instruction": (float, "nonneg"), "flop": (float, "nonneg"), "spad_access": (float, "nonneg"),
                  "atomic": (float, "nonneg"), "dram_access": (float, "nonneg"), "network_access": (float, "nonneg")},
}

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
    "dma_in_flight": "dma.requests_in_flight",
    "windows": "smash.windows",
    "cache_kb": "cache.size_kb",
    "cache_ways": "cache.ways",
    "cache_line": "cache.line_bytes",
    "cache_policy": "cache.policy",
    "cache_gathers": "cache.gathers",
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
    cache_bytes_per_core: int
    cache_ways: int
    cache_line_bytes: int
    cache_policy: str
    cache_gathers: bool
    dram_bw_bytes_per_cycle: float
    dram_access_bytes: int
    dram_latency_cycles: int
    dma_requests_in_flight: int
    smash_windows: bool
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


#: Caps on the counts that size the simulator's per-core and per-thread arrays (checked before
#: anything is allocated); the largest PIUMA configuration published has 16 cores per die and
#: scales out to many dies, far below these.
CAPS = {"core.count": 1 << 16, "core.mtp": 1 << 10, "core.threads_per_mtp": 1 << 10, "core.stp": 1 << 10,
        "scratchpad.size_kb": 1 << 30, "scratchpad.ports": 1 << 10}
MAX_THREADS = 1 << 20    # cores x (mtp x threads_per_mtp + stp)

SCHEMA = FlatSchema("piuma", _SCHEMA, SHORT_NAMES, example_path="dram.gbps", caps=CAPS)


def _cross_checks(data: dict) -> list:
    core = data["core"]
    count, mtp, tpm, stp = (int(core[k]) for k in ("count", "mtp", "threads_per_mtp", "stp"))
    problems = []
    if mtp + stp < 1:
        problems.append(("core", "'mtp + stp' must be at least 1 pipeline per core, not 0"))
    elif count * (mtp * tpm + stp) > MAX_THREADS:
        problems.append(("core", f"'count x (mtp x threads_per_mtp + stp)' must be at most {MAX_THREADS} threads, "
                                 f"not {count * (mtp * tpm + stp)}"))
    for sec, key in (("smash", "windows"), ("cache", "gathers")):
        if float(data[sec][key]) not in (0, 1):
            problems.append((f"{sec}.{key}", f"'{key}' must be 0 or 1, not {data[sec][key]!r}"))
    line = int(data["cache"]["line_bytes"])
    if line & (line - 1):
        problems.append(("cache.line_bytes", f"'line_bytes' must be a power of two, not {data['cache']['line_bytes']!r}"))
    return problems


def _take_policy(data, overrides: dict | None) -> tuple:
    """``(data, overrides, policy, problems)`` with ``cache.policy`` (a name, not a number) taken out.

    The flat schema holds numbers only; the policy is checked here against
    :data:`CACHE_POLICIES` and the rest of the document goes through the schema.
    """
    overrides = dict(overrides or {})
    policy = None
    for key in ("cache_policy", "cache.policy"):
        if key in overrides:
            policy = overrides.pop(key)
    cache = data.get("cache") if isinstance(data, dict) else None
    if isinstance(cache, dict) and "policy" in cache:
        data = dict(data, cache={k: v for k, v in cache.items() if k != "policy"})
        policy = cache["policy"] if policy is None else policy
    if policy is None:
        return data, overrides, None, [("cache.policy", "missing")] if isinstance(cache, dict) else []
    if str(policy) not in CACHE_POLICIES:
        return data, overrides, None, [("cache.policy", f"'policy' must be one of {', '.join(CACHE_POLICIES)}, not {policy!r}")]
    return data, overrides, str(policy), []


def _build(g, description: str, name: str, policy: str) -> PiumaSpec:
    """Construct the frozen spec from a validated document's typed getter ``g``."""
    clock_mhz = float(g("clock_mhz"))
    per_cycle = lambda gbps: gbps * GB / (clock_mhz * 1e6)  # noqa: E731  GB/s -> bytes/cycle
    return PiumaSpec(
        name=name,
        description=description,
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
        cache_bytes_per_core=g("cache", "size_kb") * 1024,
        cache_ways=g("cache", "ways"),
        cache_line_bytes=g("cache", "line_bytes"),
        cache_policy=policy,
        cache_gathers=bool(g("cache", "gathers")),
        dram_bw_bytes_per_cycle=per_cycle(g("dram", "gbps")),
        dram_access_bytes=g("dram", "access_bytes"),
        dram_latency_cycles=g("dram", "latency_cycles"),
        dma_requests_in_flight=g("dma", "requests_in_flight"),
        smash_windows=bool(g("smash", "windows")),
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
    data, overrides, policy, problems = _take_policy(data, overrides)
    try:
        data, g = SCHEMA.prepare(data, source, overrides, check=_cross_checks)
    except SpecError as err:
        raise SpecError(problems + err.problems, source) from None
    if problems:
        raise SpecError(problems, source)
    return _build(g, str(data.get("description", "")), spec_name(source), policy)
