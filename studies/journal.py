"""The sweep journal: finished records streamed to disk, one JSON line each, under a lock.

A sweep with ``--out PATH`` keeps ``PATH.journal.jsonl`` next to its output. Each finished
point is appended as ``{"key": ..., "record": ...}`` and synced before the next one, so a sweep
stopped at any moment (even by ``kill -9``) loses nothing that had finished, and ``--resume``
computes only what is missing.

Three guarantees, each with its mechanism:

- one writer: the journal is held under an exclusive ``flock`` for the whole sweep; a second
  sweep on the same ``--out`` is refused with one line instead of writing every point twice.
  After locking, the open file is checked to still be the one at the path (an unlinked journal
  is never written into);
- a torn last line (a kill in the middle of a write) is detected on reading, cut off the file,
  and counted in :attr:`Journal.dropped`, so its point is computed again and the next record
  starts on a line of its own. A damaged line anywhere else means something other than a kill
  touched the file: it is refused, never skipped;
- files are created with the user's umask (mode 0666 before the umask), like any other output.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from arch.errors import WorkloadError


class JournalError(WorkloadError):
    """The journal is locked by another sweep, damaged, or cannot be written."""


class Journal:
    """Finished records of one sweep, appended and synced as they arrive.

    Parameters
    ----------
    path : path-like
        The journal file (``OUT.journal.jsonl``).
    flag : str
        How the user named it, for messages (``--out r.json``).
    """

    def __init__(self, path, flag: str = "--out"):
        self.path = Path(path)
        self.flag = flag
        self.dropped = 0
        self._fd = None
        self.created = False

    def open(self, fresh: bool = False) -> "Journal":
        """Create or open the journal and take its exclusive lock; :class:`JournalError` if
        another sweep holds it, the folder cannot be written, or (``fresh``: a sweep without
        ``--resume``) a sweep that finished just before us left records in it."""
        existed = self.path.exists()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as err:
            raise JournalError(f"{self.flag}: cannot write {str(self.path)!r} ({err.strerror or err})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            same = os.path.exists(self.path) and os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except BlockingIOError:
            same = False
        if not same:
            os.close(fd)
            raise JournalError(f"{self.flag}: another sweep is writing to it (its journal {str(self.path)!r} is "
                               "locked); wait for it to finish or choose another path")
        if fresh and os.fstat(fd).st_size > 0:
            os.close(fd)
            raise JournalError(f"{self.flag}: file exists; pass --resume to continue that sweep, or choose another path")
        self._fd, self.created = fd, not existed
        return self

    def read(self) -> dict:
        """Key -> record of every complete line. A torn last line (no newline, or not a record)
        is cut off the file and counted in :attr:`dropped`; a damaged line before it is refused."""
        with open(self.path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        tail = lines.pop()                # b"" when the file ends with a newline
        good_end = len(data) - len(tail)
        self.dropped = 1 if tail else 0
        if lines and _entry(lines[-1]) is None:
            good_end -= len(lines.pop()) + 1
            self.dropped += 1
        done = {}
        for n, line in enumerate(lines, start=1):
            entry = _entry(line)
            if entry is None:
                raise JournalError(f"{self.path}: line {n} is not a journal record; the file was changed by "
                                   "something other than a sweep (remove it, or choose another --out)")
            done[entry[0]] = entry[1]
        if good_end < len(data):
            os.truncate(self.path, good_end)
        return done

    def append(self, key: str, record: dict):
        """Write one finished record and sync it to disk before returning."""
        line = json.dumps({"key": key, "record": record}, default=_jsonable, allow_nan=False) + "\n"
        os.write(self._fd, line.encode())
        os.fsync(self._fd)

    def close(self, remove_if_empty: bool = False):
        """Release the lock; a journal this sweep created and never wrote to is removed first
        (while still locked), so that a refused sweep leaves nothing behind."""
        if self._fd is None:
            return
        if remove_if_empty and self.created and os.fstat(self._fd).st_size == 0:
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def _entry(line: bytes):
    """(key, record) of one journal line, or None if it is not one."""
    try:
        entry = json.loads(line)
        return (entry["key"], entry["record"]) if isinstance(entry, dict) and isinstance(entry["key"], str) else None
    except (ValueError, KeyError, TypeError):
        return None


def _jsonable(obj):
    """JSON fallback for numpy scalars and similar."""
    for cast in (int, float):
        try:
            if cast(obj) == obj:
                return cast(obj)
        except (TypeError, ValueError):
            pass
    return str(obj)
