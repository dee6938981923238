"""The mapping of a whole cascade as data: a YAML document that round-trips.

In hardware terms the document says, for every Einsum of a cascade, which PE array runs it,
which of its ranks are spread over the array's dimensions, what tile of each rank a per-PE
buffer holds and which tensors each buffer keeps or lets pass (bypass); and, for groups of
Einsums fused together, the outer loops they share (rank and tile, outermost first), the
buffer that holds the tensors they pass to one another, how many copies (slots) of those
tensors it holds, and the pipeline stage of each Einsum: an Einsum at stage ``s`` works on
the tile the group's stage-0 Einsums worked on ``s`` iterations earlier, which is how two
arrays overlap (FuseMax's epochs and the interleaving of its 2D and 1D arrays).

Format (docs/mapping.md)::

    einsums:
      QK:
        unit: pe2d
        spatial: [[M, 256], [P, 256]]     # rank and factor per array dimension, rows first
        levels:
          glb: {keep: [Q], bypass: [K]}   # tiles: {RANK: size}, keep/bypass: tensors
        loop_order: [P, M, E]             # unfused Einsums: order of their buffer tile loops
    fusion:
      - einsums: [QK, GM, SN]
        buffer: glb
        loops: [[P, 256]]                 # shared outer loops, outermost first
        slots: 2
        stages: {SN: 1}

:func:`from_dict` refuses malformed documents with one :class:`MappingError` line naming the
file and key path; whether the mapping fits a cascade and a spec is checked by
:func:`mappings.cascade_plan.plan`. ``load(dump(m)) == m``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import yaml

from arch.errors import MappingError, SpecError
from arch.yamlio import load_yaml, load_yaml_file
from mappings.cascade_sizes import Size, size_of

_EINSUM_KEYS = ("unit", "spatial", "levels", "loop_order", "sparse")
_SPARSE_KEYS = ("merge", "distribution", "fragment")
#: How partial products of one output element are reduced (a sparse Einsum's ``sparse.merge``).
MERGES = ("none", "heap", "sort", "hash")
#: How a sparse Einsum's work reaches the threads (``sparse.distribution``).
DISTRIBUTIONS = ("static", "tokens")
_LEVEL_KEYS = ("tiles", "keep", "bypass")
_GROUP_KEYS = ("einsums", "buffer", "loops", "slots", "stages", "in_place", "spill", "sync", "capacity_slots")
_TOP_KEYS = ("cascade", "op_issue", "accounting", "einsums", "fusion")
#: How a PE issues the operators of one point of an Einsum (docs/mapping.md, "op_issue").
OP_ISSUE = ("serial", "functional_units")
_ACCOUNTING_KEYS = ("register_files",)
#: Whose per-PE register-file accesses are charged (docs/mapping.md, "accounting"):
#: ``every_pe`` (each PE that issues: the physical count) or ``one_pe`` (one PE instance's
#: share, the published FuseMax artifact's convention).
REGISTER_FILES = ("every_pe", "one_pe")


@dataclass(frozen=True)
class Placement:
    """One Einsum's unit, spatial unrolling, per-level tiles and keep/bypass, loop order.

    Attributes
    ----------
    einsum : str
    unit : str
        A compute unit of the spec.
    spatial : tuple of (rank, factor)
        One entry per array dimension in use, rows first. A factor (and a tile) is an ``int``
        or a :class:`~mappings.cascade_sizes.Size` that follows the spec (``pe2d.rows``).
    tiles : mapping level -> (rank -> tile size, elements)
    bypass : mapping level -> tuple of tensors
        Tensors that level does not hold (they stream past it); every other tensor is kept.
    loop_order : tuple of rank
        Outermost first; orders the buffer tile loops of an Einsum that is not fused.
    sparse : Sparse or None
        For an Einsum on sparse operands: how partial products merge and how work is handed out.
    """

    einsum: str
    unit: str
    spatial: tuple = ()
    tiles: Mapping = field(default_factory=dict)
    bypass: Mapping = field(default_factory=dict)
    loop_order: tuple = ()
    sparse: "Sparse | None" = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "spatial", tuple((str(r), size_of(f)) for r, f in self.spatial))
        object.__setattr__(self, "tiles", MappingProxyType(
            {lv: MappingProxyType({r: size_of(n) for r, n in t.items()}) for lv, t in self.tiles.items() if t}))
        object.__setattr__(self, "bypass", MappingProxyType(
            {lv: tuple(ts) for lv, ts in self.bypass.items() if ts}))
        object.__setattr__(self, "loop_order", tuple(self.loop_order))
        # the read-only tables hash by their items (equal placements, equal hashes), so a
        # placement can key a cache (functools.lru_cache) of what is derived from it
        object.__setattr__(self, "_hash", hash((self.einsum, self.unit, self.spatial, _items(self.tiles),
                                                _items(self.bypass), self.loop_order, self.sparse)))

    def __hash__(self):
        return self._hash

    def keeps(self, level: str, tensor: str) -> bool:
        """True when ``level`` holds ``tensor`` for this Einsum."""
        return tensor not in self.bypass.get(level, ())


@dataclass(frozen=True)
class Sparse:
    """The choices of a sparse Einsum's mapping beyond its loop order (docs/spgemm.md).

    Attributes
    ----------
    merge : str
        How the partial products of one output element are reduced: ``none`` (they never
        exist apart: an inner product intersects and sums in registers), ``heap`` (sorted runs
        merged with a heap), ``sort`` (written out, sorted by coordinate and compressed), or
        ``hash`` (inserted into a hash table with compare-and-swap and fetch-and-add).
    distribution : str
        ``static``: each thread owns an equal share of the output rows (or, with the spec's
        ``smash.windows``, windows of rows handed out in turn); ``tokens``: threads take
        chunks of rows from a shared queue.
    fragment : bool
        A hash table larger than one thread's scratchpad slice is spread over every core's
        scratchpad (needs ``tokens``: any thread may work on any fragment).
    """

    merge: str
    distribution: str = "static"
    fragment: bool = False

    def to_dict(self) -> dict:
        d = {"merge": self.merge, "distribution": self.distribution}
        if self.fragment:
            d["fragment"] = True
        return d


@dataclass(frozen=True)
class Group:
    """Einsums fused under shared outer loops (see the module docstring).

    Attributes
    ----------
    einsums : tuple of str
        In cascade order.
    buffer : str
        The shared storage level holding the tensors passed inside the group.
    loops : tuple of (rank, tile)
        Shared loops, outermost first; each walks its rank in tiles of ``tile`` elements (an
        ``int`` or a :class:`~mappings.cascade_sizes.Size`, ``fit(STEP)`` included).
    slots : int
        Copies of each passed tensor the buffer holds (2: producer and consumer overlap).
    stages : mapping einsum -> int
        Pipeline stage of each Einsum (0 when not named).
    in_place : bool
        The tensors passed inside the group share one region of the buffer, each consumer
        writing its result over the tile it read (FLAT's score block: QK, then SN, then A):
        the buffer holds the largest passed tile times ``slots`` rather than their sum.
    spill : mapping tensor -> einsum
        Tensors passed inside the group through DRAM: the producer stores its tile (one
        stage after it computes it) and the named consumer, at least two stages later, loads
        it back (one stage ahead of it): FLAT's schedule when its score blocks do not fit.
    sync : tuple of tuple of str
        Lock-step sets of Einsums: in every iteration of the group's steady state each task of
        a set waits for every task of the previous set (and the first set for the last set
        of the previous iteration), whatever the data flow: a naive schedule in which the
        sets advance one after another (FuseMax's +Architecture). Empty: no such waits.
    capacity_slots : int or None
        The copies of each passed tensor counted against the buffer's capacity (``None``:
        ``slots``, the physical count). The published FLAT model counts one score block
        where its overlap of two blocks holds two.
    """

    einsums: tuple
    buffer: str
    loops: tuple = ()
    slots: int = 1
    stages: Mapping = field(default_factory=dict)
    in_place: bool = False
    spill: Mapping = field(default_factory=dict)
    sync: tuple = ()
    capacity_slots: int | None = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "sync", tuple(tuple(s) for s in self.sync))
        object.__setattr__(self, "spill", MappingProxyType(dict(self.spill)))
        object.__setattr__(self, "einsums", tuple(self.einsums))
        object.__setattr__(self, "loops", tuple((str(r), size_of(t)) for r, t in self.loops))
        object.__setattr__(self, "stages", MappingProxyType({k: int(v) for k, v in self.stages.items() if v}))
        object.__setattr__(self, "_hash", hash((self.einsums, self.buffer, self.loops, self.slots, _items(self.stages),
                                                self.in_place, _items(self.spill), self.sync, self.capacity_slots)))

    def __hash__(self):
        return self._hash

    def stage(self, einsum: str) -> int:
        return self.stages.get(einsum, 0)

    @property
    def counted_slots(self) -> int:
        """Copies of each passed tensor counted against the buffer's capacity."""
        return self.slots if self.capacity_slots is None else self.capacity_slots


@dataclass(frozen=True)
class CascadeMapping:
    """Placements of every Einsum and the fusion groups; ``cascade`` names the cascade it was
    written for (informational); ``op_issue`` is how a PE issues the operators of one point:
    ``serial`` (one after another: a point costs the sum of its operators' issue cycles) or
    ``functional_units`` (operators on different functional units overlap: a point costs the
    busiest unit's cycles; :func:`sim.cascade.functional_unit`); ``register_files`` (the
    ``accounting:`` block) is whose per-PE register-file accesses are charged: ``every_pe``
    (every PE that issues) or ``one_pe`` (one PE instance, the count divided by the PEs the
    Einsum is spread over)."""

    placements: tuple
    fusion: tuple = ()
    cascade: str = ""
    op_issue: str = "serial"
    register_files: str = "every_pe"
    _hash: int = field(default=0, init=False, repr=False, compare=False)
    _by: Mapping = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "placements", tuple(self.placements))
        object.__setattr__(self, "fusion", tuple(self.fusion))
        object.__setattr__(self, "_hash", hash((self.placements, self.fusion, self.cascade, self.op_issue,
                                                self.register_files)))
        by = {}
        for p in self.placements:   # the first placement of each Einsum
            by.setdefault(p.einsum, p)
        object.__setattr__(self, "_by", MappingProxyType(by))

    def __hash__(self):
        return self._hash

    def of(self, einsum: str) -> Placement:
        p = self._by.get(einsum)
        if p is None:
            raise MappingError(f"einsum {einsum!r}: the mapping does not place it")
        return p

    def to_dict(self) -> dict:
        """Plain data (what :func:`dump` writes)."""
        einsums = {}
        for p in self.placements:
            d = {"unit": p.unit}
            if p.spatial:
                d["spatial"] = [[r, _plain(f)] for r, f in p.spatial]
            levels = {}
            for lv in dict.fromkeys((*p.tiles, *p.bypass)):
                entry = {}
                if lv in p.tiles:
                    entry["tiles"] = {r: _plain(n) for r, n in p.tiles[lv].items()}
                if lv in p.bypass:
                    entry["bypass"] = list(p.bypass[lv])
                levels[lv] = entry
            if levels:
                d["levels"] = levels
            if p.loop_order:
                d["loop_order"] = list(p.loop_order)
            if p.sparse is not None:
                d["sparse"] = p.sparse.to_dict()
            einsums[p.einsum] = d
        out = {"cascade": self.cascade} if self.cascade else {}
        if self.op_issue != "serial":
            out["op_issue"] = self.op_issue
        if self.register_files != "every_pe":
            out["accounting"] = {"register_files": self.register_files}
        out["einsums"] = einsums
        if self.fusion:
            out["fusion"] = [_group_dict(g) for g in self.fusion]
        return out


def _items(table) -> frozenset:
    """A read-only table (nested ones too) as a hashable set of its items."""
    return frozenset((k, _items(v) if isinstance(v, Mapping) else v) for k, v in table.items())


def _plain(size):
    """A size as plain data: an integer, or the text of its expression."""
    return size.text if isinstance(size, Size) else size


def _group_dict(g: Group) -> dict:
    d = {"einsums": list(g.einsums), "buffer": g.buffer}
    if g.loops:
        d["loops"] = [[r, _plain(t)] for r, t in g.loops]
    if g.slots != 1:
        d["slots"] = g.slots
    if g.stages:
        d["stages"] = dict(g.stages)
    if g.in_place:
        d["in_place"] = True
    if g.spill:
        d["spill"] = dict(g.spill)
    if g.sync:
        d["sync"] = [list(s) for s in g.sync]
    if g.capacity_slots is not None:
        d["capacity_slots"] = g.capacity_slots
    return d


# ----------------------------------------------------------------------------- reading
class _Reader:
    """Shape checks with key paths; every refusal is one MappingError line."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, message: str):
        raise MappingError(f"{self.source}: {path}: {message}")

    def mapping(self, path, v, allowed) -> dict:
        if not isinstance(v, dict):
            self.fail(path, f"must be a mapping, not {v!r}")
        unknown = [k for k in v if k not in allowed]
        if unknown:
            self.fail(f"{path}.{unknown[0]}", f"unknown key (allowed: {', '.join(allowed)})")
        return v

    def table(self, path, v) -> dict:
        """A mapping whose keys are names the document chooses (levels, tiles, stages)."""
        if v is None:
            return {}
        return self.mapping(path, v, tuple(v) if isinstance(v, dict) else ())

    def name(self, path, v) -> str:
        if not isinstance(v, str) or not v:
            self.fail(path, f"must be a name, not {v!r}")
        return v

    def names(self, path, v) -> list:
        if not isinstance(v, list):
            self.fail(path, f"must be a list of names, not {v!r}")
        return [self.name(f"{path}[{i}]", x) for i, x in enumerate(v)]

    def count(self, path, v, minimum=1) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            self.fail(path, f"must be an integer >= {minimum}, not {v!r}")
        return v

    def size(self, path, v, fit=False):
        """A size: an integer >= 1 or an expression of the spec's sizes (:mod:`mappings.cascade_sizes`);
        ``fit(STEP)`` only where ``fit``."""
        if not isinstance(v, str):
            return self.count(path, v)
        size = Size(v, f"{self.source}: {path}")
        if size.is_fit and not fit:
            self.fail(path, f"{v!r}: fit(STEP) is allowed only as a loop tile (a fusion group's, or an Einsum's tile at a level)")
        return size

    def pairs(self, path, v, fit=False) -> list:
        """``[[RANK, size], ...]``."""
        if not isinstance(v, list):
            self.fail(path, f"must be a list of [rank, size] pairs, not {v!r}")
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, list) or len(item) != 2:
                self.fail(f"{path}[{i}]", f"must be a [rank, size] pair, not {item!r}")
            out.append((self.name(f"{path}[{i}][0]", item[0]), self.size(f"{path}[{i}][1]", item[1], fit)))
        return out

    def placement(self, name, d) -> Placement:
        path = f"einsums.{name}"
        d = self.mapping(path, d, _EINSUM_KEYS)
        if "unit" not in d:
            self.fail(f"{path}.unit", "is required")
        tiles, bypass = {}, {}
        for lv, entry in self.table(f"{path}.levels", d.get("levels")).items():
            lp = f"{path}.levels.{lv}"
            entry = self.mapping(lp, entry, _LEVEL_KEYS)
            t = self.table(f"{lp}.tiles", entry.get("tiles"))
            tiles[lv] = {self.name(f"{lp}.tiles", r): self.size(f"{lp}.tiles.{r}", n, fit=True) for r, n in t.items()}
            keep = self.names(f"{lp}.keep", entry.get("keep", []))
            bypass[lv] = self.names(f"{lp}.bypass", entry.get("bypass", []))
            both = sorted(set(keep) & set(bypass[lv]))
            if both:
                self.fail(f"{lp}.bypass", f"tensor {both[0]!r} is both kept and bypassed")
        return Placement(name, self.name(f"{path}.unit", d["unit"]), self.pairs(f"{path}.spatial", d.get("spatial", [])),
                         tiles, bypass, self.names(f"{path}.loop_order", d.get("loop_order", [])),
                         None if "sparse" not in d else self.sparse(f"{path}.sparse", d["sparse"]))

    def choice(self, path, v, allowed) -> str:
        if v not in allowed:
            self.fail(path, f"must be one of {', '.join(allowed)}, not {v!r}")
        return v

    def sparse(self, path, d) -> Sparse:
        d = self.mapping(path, d, _SPARSE_KEYS)
        if "merge" not in d:
            self.fail(f"{path}.merge", "is required")
        fragment = d.get("fragment", False)
        if not isinstance(fragment, bool):
            self.fail(f"{path}.fragment", f"must be true or false, not {fragment!r}")
        return Sparse(self.choice(f"{path}.merge", d["merge"], MERGES),
                      self.choice(f"{path}.distribution", d.get("distribution", "static"), DISTRIBUTIONS), fragment)

    def group(self, i, d) -> Group:
        path = f"fusion[{i}]"
        d = self.mapping(path, d, _GROUP_KEYS)
        for key in ("einsums", "buffer"):
            if key not in d:
                self.fail(f"{path}.{key}", "is required")
        stages = self.table(f"{path}.stages", d.get("stages"))
        in_place = d.get("in_place", False)
        if not isinstance(in_place, bool):
            self.fail(f"{path}.in_place", f"must be true or false, not {in_place!r}")
        spill = {self.name(f"{path}.spill", x): self.name(f"{path}.spill.{x}", c)
                 for x, c in self.table(f"{path}.spill", d.get("spill")).items()}
        return Group(self.names(f"{path}.einsums", d["einsums"]), self.name(f"{path}.buffer", d["buffer"]),
                     self.pairs(f"{path}.loops", d.get("loops", []), fit=True), self.count(f"{path}.slots", d.get("slots", 1)),
                     {k: self.count(f"{path}.stages.{k}", v, minimum=0) for k, v in stages.items()}, in_place, spill,
                     self.sync(f"{path}.sync", d.get("sync", [])), self.capacity_slots(path, d))

    def capacity_slots(self, path, d) -> int | None:
        """A group's ``capacity_slots``: an integer from 1 to its ``slots``, or absent."""
        if "capacity_slots" not in d:
            return None
        v, slots = d["capacity_slots"], d.get("slots", 1)
        n = self.count(f"{path}.capacity_slots", v)
        if isinstance(slots, int) and n > slots:
            self.fail(f"{path}.capacity_slots", f"must be at most slots ({slots}), not {v!r}")
        return n

    def sync(self, path, v) -> list:
        """``[[EINSUM, ...], ...]``: sets of names, each name in one set at most."""
        if not isinstance(v, list):
            self.fail(path, f"must be a list of lists of names, not {v!r}")
        sets, seen = [], set()
        for i, item in enumerate(v):
            names = self.names(f"{path}[{i}]", item)
            if not names:
                self.fail(f"{path}[{i}]", "must name at least one einsum, not []")
            for j, n in enumerate(names):
                if n in seen:
                    self.fail(f"{path}[{i}][{j}]", f"einsum {n!r} is in more than one set")
                seen.add(n)
            sets.append(names)
        return sets


def from_dict(data, source: str = "<mapping>") -> CascadeMapping:
    """Build a :class:`CascadeMapping` from plain data; :class:`MappingError` names the key path."""
    r = _Reader(source)
    data = r.mapping("(top)", data, _TOP_KEYS)
    if "einsums" not in data:
        r.fail("einsums", "is required")
    einsums = r.table("einsums", data["einsums"])
    fusion = data.get("fusion", [])
    if not isinstance(fusion, list):
        r.fail("fusion", f"must be a list of groups, not {fusion!r}")
    cascade = data.get("cascade", "")
    if not isinstance(cascade, str):
        r.fail("cascade", f"must be a name, not {cascade!r}")
    op_issue = data.get("op_issue", "serial")
    if op_issue not in OP_ISSUE:
        r.fail("op_issue", f"must be one of {', '.join(OP_ISSUE)}, not {op_issue!r}")
    accounting = r.mapping("accounting", data.get("accounting", {}), _ACCOUNTING_KEYS)
    register_files = r.choice("accounting.register_files", accounting.get("register_files", "every_pe"),
                              REGISTER_FILES)
    return CascadeMapping(tuple(r.placement(n, d) for n, d in einsums.items()),
                          tuple(r.group(i, g) for i, g in enumerate(fusion)), cascade, op_issue, register_files)


def dump(m: CascadeMapping) -> str:
    """YAML text of a mapping (keys in a fixed order)."""
    return yaml.safe_dump(m.to_dict(), sort_keys=False, default_flow_style=None)


def loads(text: str, source: str = "<mapping>") -> CascadeMapping:
    """Read a mapping from YAML text."""
    try:
        data = load_yaml(text, source)
    except SpecError as err:
        raise MappingError(str(err)) from None
    return from_dict(data, source)


SHIPPED = "shipped"


def shipped_names() -> tuple:
    """Names of the mapping files shipped with the package (``mappings/shipped/*.yaml``)."""
    folder = resources.files("mappings") / SHIPPED
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")))


@lru_cache(maxsize=64)
def shipped(name: str) -> CascadeMapping:
    """A shipped mapping by name, read once (the files are package data; the mapping is
    immutable)."""
    if name not in shipped_names():
        raise MappingError(f"{name!r} is not a shipped mapping (shipped: {', '.join(shipped_names())})")
    res = resources.files("mappings") / SHIPPED / f"{name}.yaml"
    return loads(res.read_text(), f"{name}.yaml")


def load(path_or_name) -> CascadeMapping:
    """Read a mapping file, or a shipped mapping by name (``gemm-unfused``)."""
    text = str(path_or_name)
    if not text.endswith((".yaml", ".yml")) and text in shipped_names():
        return shipped(text)
    p = Path(text)
    if not p.is_file():
        raise MappingError(f"--mapping {text}: no such file, and not a shipped mapping "
                           f"(shipped: {', '.join(shipped_names()) or 'none'})")
    try:
        data = load_yaml_file(p)
    except SpecError as err:
        raise MappingError(str(err)) from None
    return from_dict(data, str(p))
