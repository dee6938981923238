"""Timeloop v0.4 mapper constraints and options, read into the hierarchy mapper's search space.

In hardware terms: an architect narrows the mappings the mapper may try (a dataflow such as
Eyeriss's row stationary: which tensor each scratchpad keeps, which ranks spread over the PE
columns and rows, which loops run inside a PE) and says what to optimise. Timeloop takes these
from two places, and so does :func:`read_constraints`:

- ``constraints:`` under a node of the architecture file (v0.4): ``dataspace: {keep, bypass}``,
  ``temporal: {factors, permutation}``, ``spatial: {factors, permutation, split}``; the target
  is the node itself (a storage component, or a container with a ``spatial`` mesh);
- a constraints file: ``constraints: {targets: [...]}``, ``mapspace_constraints`` or
  ``architecture_constraints`` (a list, or ``{targets: [...]}``): each entry has a ``target``
  and a ``type`` (``temporal``, ``spatial``, ``bypass`` / ``dataspace`` / ``datatype``) with
  the same keys; and ``mapper:`` options.

What each key means for the search (:class:`mappings.nest_mapper.LevelRule`):

- ``factors: "N=1 C=4"``: those ranks get exactly that factor at the target (1: none there);
- temporal ``permutation``: innermost first; the listed ranks run innermost in that order, the
  others above them in any order;
- spatial ``permutation`` with ``split: n``: the first ``n`` ranks may go on the fan-out's X
  axis, the rest on Y (without ``split``: all on X); the order of spatial loops changes no
  count. A container constrains only the axes along which its mesh is wider than one.
- ``keep`` / ``bypass``: tensors the level must keep / must not keep; others are searched. Under
  a node of the architecture file, a ``keep`` list without ``bypass`` bypasses every other
  tensor (Timeloop's v0.4 front end writes it so in the input it hands the mapper:
  ``ref-output/parsed-processed-input.yaml`` of its exercise 06).
- ``mapper.optimization_metrics`` (or ``optimization-metrics``): ``[delay, energy]`` is our
  ``latency`` objective, ``[energy, delay]`` or ``[energy]`` is ``energy``, ``[edp]`` is
  ``edp``. Options that steer Timeloop's random search (threads, timeouts, victory condition,
  algorithm, ...) have no meaning for an exact search: accepted and ignored.

Anything else is refused with one line naming the file, key path and value.
"""

from __future__ import annotations

import re
from dataclasses import replace

from arch.errors import MappingError
from arch.timeloop import flatten_nodes
from arch.yamlio import load_yaml_file
from mappings.nest_mapper import LevelRule
from mappings.timeloop import parse_factors

_TOP_KEYS = ("mapper", "constraints", "mapspace_constraints", "architecture_constraints")
_TARGET_KEYS = {"target", "type", "factors", "permutation", "split", "keep", "bypass"}
_TYPES = {"temporal": "temporal", "spatial": "spatial", "bypass": "dataspace", "dataspace": "dataspace",
          "datatype": "dataspace"}
_INLINE_KEYS = {"temporal", "spatial", "dataspace", "bypass", "datatype"}
#: Options of Timeloop's (random, heuristic) search: meaningless for an exact search.
_IGNORED_OPTIONS = {"version", "live_status", "live-status", "num_threads", "num-threads", "timeout",
                    "victory_condition", "victory-condition", "algorithm", "max_permutations_per_if_visit",
                    "max-permutations-per-if-visit", "search_size", "search-size", "sync_interval",
                    "sync-interval", "log_oaves", "log-oaves", "log_oaves_mappings", "log-oaves-mappings",
                    "log_stats", "log-stats", "log_suboptimal", "log-suboptimal", "diagnostics",
                    "out_prefix", "penalize_consecutive_bypass_fails", "filter_revisits", "emit_whoop_nest"}
_METRICS = {("delay", "energy"): "latency", ("delay",): "latency", ("energy", "delay"): "energy",
            ("energy",): "energy", ("edp",): "edp"}


def _fail(src, path, msg):
    raise MappingError(f"{src}: {path}: {msg}")


def _names(src, path, value, allowed) -> list:
    """A list of names from ``[A, B]`` or ``"AB"`` / ``"A B"``; each must be in ``allowed``."""
    if isinstance(value, list):
        names = [str(v) for v in value]
    else:
        text = str(value or "")
        names = re.findall(r"[A-Za-z_]\w*", text) if re.search(r"[\s,]", text) else list(text)
    for nm in names:
        if nm not in allowed:
            _fail(src, path, f"unknown name {nm!r} (allowed: {', '.join(allowed)})")
    return names


def _fixed(src, path, value, ranks) -> dict:
    got = parse_factors(src, path, value, ranks)
    for r, f in got.items():
        if f < 1:
            _fail(src, path, f"factor of {r} must be a positive integer, not {f}")
    return got


class _Targets:
    """Per-level rules being built from constraint entries (one directive per target and type)."""

    def __init__(self, hierarchy, shape, meshes):
        self.h, self.shape = hierarchy, shape
        self.meshes = meshes  # target name -> (level index, meshX, meshY) for spatial targets
        self.rules = [LevelRule() for _ in hierarchy.levels]
        self.seen = set()
        self.axes = [{"x": None, "y": None} for _ in hierarchy.levels]

    def level(self, src, path, name, kind) -> int:
        if name in self.h.names:
            return self.h.index(name)
        if kind == "spatial" and name in self.meshes:
            return self.meshes[name][0]
        allowed = list(self.h.names) + (list(self.meshes) if kind == "spatial" else [])
        _fail(src, f"{path}.target", f"unknown target {name!r} (targets: {', '.join(allowed)})")

    def add(self, src, path, name, kind, entry, keep_only=False):
        for k in entry:
            if k not in _TARGET_KEYS:
                _fail(src, f"{path}.{k}", f"unknown key (allowed: {', '.join(sorted(_TARGET_KEYS))})")
        i = self.level(src, path, name, kind)
        if (name, kind) in self.seen:
            _fail(src, path, f"a second {kind} constraint for {name}")
        self.seen.add((name, kind))
        ranks, tensors = list(self.shape.ranks), list(self.shape.tensors)
        rule = self.rules[i]
        if kind == "dataspace":
            keep = set(_names(src, f"{path}.keep", entry.get("keep", []), tensors))
            bypass = set(_names(src, f"{path}.bypass", entry.get("bypass", []), tensors))
            if keep_only and "bypass" not in entry:
                bypass = set(tensors) - keep
            if keep & bypass:
                _fail(src, path, f"{sorted(keep & bypass)[0]} is both kept and bypassed")
            self.rules[i] = replace(rule, keep=rule.keep | keep, bypass=rule.bypass | bypass)
        elif kind == "temporal":
            fixed = _fixed(src, f"{path}.factors", entry.get("factors"), ranks)
            order = tuple(_names(src, f"{path}.permutation", entry.get("permutation", []), ranks))
            self.rules[i] = replace(rule, temporal=tuple(fixed.items()), order=order)
        else:
            self._spatial(src, path, name, i, entry, ranks)

    def _spatial(self, src, path, name, i, entry, ranks):
        fixed = _fixed(src, f"{path}.factors", entry.get("factors"), ranks)
        perm = _names(src, f"{path}.permutation", entry.get("permutation", []), ranks)
        split = entry.get("split", len(perm))
        if not isinstance(split, int) or split < 0:
            _fail(src, f"{path}.split", f"'split' must be a non-negative integer, not {split!r}")
        _, mx, my = self.meshes.get(name, (i, *self.h.child_fanout(i)))
        free = [r for r in ranks if fixed.get(r, 0) != 1]
        sides = {"x": (perm[:split], mx), "y": (perm[split:], my)}
        if not perm:
            sides = {"x": (ranks, mx), "y": (ranks, my)}
        rule = self.rules[i]
        for axis, (listed, mesh) in sides.items():
            if mesh <= 1:
                continue
            allowed = frozenset(r for r in listed if r in free) | frozenset(r for r in free if r not in perm)
            prev = self.axes[i][axis]
            self.axes[i][axis] = allowed if prev is None else prev & allowed
            pinned = tuple((r, f) for r, f in fixed.items() if f > 1 and r in allowed)
            field_name = f"spatial_{axis}"
            rule = replace(rule, **{field_name: getattr(rule, field_name) + pinned,
                                    f"{axis}_ranks": self.axes[i][axis]})
        self.rules[i] = rule


def _arch_nodes(arch_path):
    """(name, tag, node) of every container and component of a Timeloop architecture file."""
    data = load_yaml_file(arch_path)
    arch = data.get("architecture") if isinstance(data, dict) else None
    if not isinstance(arch, dict):
        return []
    flat = []
    flatten_nodes(arch.get("nodes"), "architecture.nodes", [], flat)
    return [(p, tag, node) for p, tag, node in flat if isinstance(node.get("name"), str)]


def _meshes(nodes, hierarchy) -> dict:
    """Spatial target name -> (level index, meshX, meshY); without the architecture's nodes a
    container is taken as wide as the whole fan-out below its level."""
    alias = dict(hierarchy.fanout_names)
    out = {name: (i, *hierarchy.child_fanout(i)) for name, i in alias.items()}
    for _, tag, node in nodes:
        name = node["name"]
        if tag == "Container" and name in alias:
            sp = node.get("spatial") or {}
            out[name] = (alias[name], int(sp.get("meshX", 1)), int(sp.get("meshY", 1)))
    return out


def _objective(src, options) -> str | None:
    if options is None:
        return None
    if not isinstance(options, dict):
        _fail(src, "mapper", f"must be a mapping of options, not {options!r}")
    objective = None
    for k, v in options.items():
        if k in ("optimization_metrics", "optimization-metrics"):
            metrics = tuple(str(m) for m in v) if isinstance(v, list) else (str(v),)
            if metrics not in _METRICS:
                _fail(src, f"mapper.{k}", f"must be one of {', '.join(str(list(m)) for m in _METRICS)}, not {v!r}")
            objective = _METRICS[metrics]
        elif k not in _IGNORED_OPTIONS:
            _fail(src, f"mapper.{k}", f"unknown option (known: optimization_metrics, "
                                     f"{', '.join(sorted(_IGNORED_OPTIONS))})")
    return objective


def _entries(src, data) -> list:
    """(path, entry) of every target of a constraints file."""
    out = []
    for key in _TOP_KEYS[1:]:
        node = data.get(key)
        if node is None:
            continue
        if isinstance(node, dict):
            extra = sorted(set(node) - {"targets", "version"})
            if extra:
                _fail(src, f"{key}.{extra[0]}", "unknown key (allowed: targets, version)")
            node, key = node.get("targets", []), f"{key}.targets"
        if not isinstance(node, list):
            _fail(src, key, f"must be a list of targets, not {node!r}")
        out += [(f"{key}[{j}]", e) for j, e in enumerate(node)]
    return out


def read_constraints(path, hierarchy, shape, arch_path=None) -> tuple:
    """The search space and objective a user asked for.

    Parameters
    ----------
    path : str or None
        A constraints file (``constraints`` / ``mapspace_constraints`` /
        ``architecture_constraints`` targets and ``mapper`` options), or None.
    hierarchy : arch.hierarchy.Hierarchy
    shape : mappings.mapping.EinsumShape
    arch_path : str or None
        A Timeloop architecture file whose nodes carry ``constraints:`` of their own.

    Returns
    -------
    (list of LevelRule, str or None)
        One rule per storage level, outermost first; the objective the file names (None: it
        names none).
    """
    nodes = _arch_nodes(arch_path) if arch_path is not None else []
    t = _Targets(hierarchy, shape, _meshes(nodes, hierarchy))
    for p, _, node in nodes:
        cons = node.get("constraints")
        if cons is None:
            continue
        if not isinstance(cons, dict):
            _fail(arch_path, f"{p}.constraints", f"must be a mapping, not {cons!r}")
        for kind, entry in cons.items():
            if kind not in _INLINE_KEYS or not isinstance(entry, dict):
                _fail(arch_path, f"{p}.constraints.{kind}", f"must be one of {', '.join(sorted(_INLINE_KEYS))} "
                                                            f"with a mapping, not {entry!r}")
            t.add(arch_path, f"{p}.constraints.{kind}", node["name"], _TYPES[kind], entry, keep_only=True)
    objective = None
    if path is not None:
        src = str(path)
        data = load_yaml_file(path)
        if not isinstance(data, dict):
            _fail(src, "", "a constraints file must be a YAML mapping")
        for k in data:
            if k not in _TOP_KEYS:
                _fail(src, str(k), f"unknown key (allowed: {', '.join(_TOP_KEYS)})")
        objective = _objective(src, data.get("mapper"))
        for p, e in _entries(src, data):
            if not isinstance(e, dict):
                _fail(src, p, f"a target must be a mapping, not {e!r}")
            kind = _TYPES.get(e.get("type"))
            if kind is None:
                _fail(src, f"{p}.type", f"'type' must be one of {', '.join(_TYPES)}, not {e.get('type')!r}")
            t.add(src, p, str(e.get("target")), kind, e)
    return t.rules, objective
