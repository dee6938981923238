"""Exception types shared by every layer.

Every error the project raises on bad input derives from :class:`AccelError`, so a library
caller can catch one type and the ``explore`` command line can turn any of them into one line
on stderr and exit status 2. Each layer adds its own subclasses next to the code that raises
them; the base lives here, in the lowest layer, so that imports keep pointing downward.
"""

from __future__ import annotations


class AccelError(Exception):
    """Base of every error caused by bad input (a spec, a workload, a mapping, a file, a flag)."""


def one_line(text) -> str:
    """``text`` with every non-printable character (a newline, a NUL) written as its escape, so
    that a message quoting a user's key or file name stays one line."""
    text = str(text)
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class SpecError(AccelError):
    """An architecture spec (or any YAML document) is invalid.

    Parameters
    ----------
    problems : list of (key path, message)
        Every problem found, each with the dotted key path where it was found
        (``storage.glb.size_bytes``), so that one run reports them all.
    source : str, optional
        The file (or ``<string>``) the spec came from.
    """

    def __init__(self, problems, source: str | None = None):
        if isinstance(problems, str):
            problems = [("", problems)]
        self.problems = [(one_line(p), one_line(m)) for p, m in problems]
        self.source = source
        where = f"{one_line(source)}: " if source else ""
        parts = [f"{p}: {m}" if p else m for p, m in self.problems]
        super().__init__(where + "; ".join(parts))


class WorkloadError(AccelError):
    """A workload description (cascade text, workload string, shapes, matrix file) is invalid."""


class MappingError(AccelError):
    """A mapping cannot be laid on the hardware (binding, tiling, buffer fit, deadlock)."""


class SimulationError(AccelError):
    """A simulation was refused (over budget, invalid task graph)."""
