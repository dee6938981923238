"""Presets and user spec files, by name or path.

Every spec is a YAML document whose top-level ``kind`` says which loader builds it:
``spatial`` (2D/1D PE arrays with storage levels: fusemax, flat, unfused, systolic, ...),
``piuma`` (the PIUMA-like many-threaded machine), ``mmfree`` (the ternary MatMul-free
accelerator), ``hierarchy`` (storage levels of any depth with spatial fan-outs,
:mod:`arch.hierarchy`). A Timeloop v0.4 architecture file (a top-level ``architecture`` key with
``!Container``/``!Component`` nodes, no ``kind``) is kind ``timeloop`` and loads through
:mod:`arch.timeloop` into the same :class:`arch.hierarchy.Hierarchy`. Presets ship as package
data in ``arch/presets/*.yaml``; a user's own file works anywhere a preset name does.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from arch.errors import SpecError
from arch.yamlio import load_yaml_file

PRESET_DIR = Path(__file__).parent / "presets"

# kind -> "module:function" taking (data: dict, source: str) and returning a typed spec.
LOADERS = {
    "spatial": "arch.spec:spatial_from_dict",
    "piuma": "arch.piuma:piuma_from_dict",
    "mmfree": "arch.mmfree:mmfree_from_dict",
    "hierarchy": "arch.hierarchy:hierarchy_from_dict",
    "timeloop": "arch.timeloop:hierarchy_from_timeloop",
}


def _kind(data) -> str | None:
    """A document's kind: its ``kind`` key, or ``timeloop`` for a Timeloop architecture."""
    if not isinstance(data, dict):
        return None
    if "kind" not in data and "architecture" in data:
        return "timeloop"
    return data.get("kind")


def list_presets() -> dict:
    """Preset name -> one-line description, read from each preset's ``description`` key."""
    out = {}
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        data = load_yaml_file(path)
        out[path.stem] = (data or {}).get("description", "") if isinstance(data, dict) else ""
    return out


def resolve(name_or_path) -> Path:
    """The file behind a preset name or a path; :class:`SpecError` if neither exists."""
    s = str(name_or_path)
    if not s or "\0" in s:
        raise SpecError([("", f"--arch must name a preset or a .yaml file, not {s!r}")])
    p = Path(s)
    try:
        is_file = p.is_file()
    except OSError as err:
        raise SpecError([("", f"cannot read file ({err.strerror or err})")], s) from None
    if s.endswith((".yaml", ".yml")) or is_file:
        if not is_file:
            raise SpecError([("", "no such spec file")], s)
        return p
    preset = PRESET_DIR / f"{s}.yaml"
    if not s.replace("-", "").replace("_", "").isalnum() or not s.isascii() or not preset.is_file():
        names = ", ".join(list_presets()) or "none"
        raise SpecError([("", f"unknown preset {s!r} (presets: {names}; or give a path to a .yaml file)")])
    return preset


def _document(name_or_path):
    """(path, mapping, kind) of a preset or spec file; :class:`SpecError` unless it is a
    mapping whose ``kind`` names a loader."""
    path = resolve(name_or_path)
    data = load_yaml_file(path)
    if not isinstance(data, dict):
        raise SpecError([("", "a spec must be a YAML mapping")], str(path))
    kind = _kind(data)
    if not isinstance(kind, str) or kind not in LOADERS:
        raise SpecError([("kind", f"must be one of {sorted(LOADERS)}, not {kind!r}")], str(path))
    return path, data, kind


def load_arch(name_or_path, overrides: dict | None = None):
    """Load a preset or spec file into its typed spec.

    ``overrides`` maps dotted key paths (``storage.glb.size_bytes``) or a loader's short
    parameter names to values, applied before validation.
    """
    path, data, kind = _document(name_or_path)
    mod, fn = LOADERS[kind].split(":")
    loader = getattr(importlib.import_module(mod), fn)
    return loader(data, source=str(path), overrides=overrides or {})


def arch_kind(name_or_path) -> str:
    """The ``kind`` of a preset or spec file, without building it (:class:`SpecError` if the
    file is not a spec of a known kind). Read once per version of the file (its path,
    modification time and size): a sweep asks it for every point."""
    path = resolve(name_or_path)
    try:
        stat = path.stat()
    except OSError:
        return _document(path)[2]     # gone since resolved: the reading names the reason
    return _kind_of_file(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _kind_of_file(path: str, mtime_ns: int, size: int) -> str:
    """The ``kind`` of the spec file at ``path`` as it is at ``mtime_ns`` and ``size``."""
    return _document(path)[2]
