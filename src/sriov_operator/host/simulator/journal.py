"""Crash safety of the simulated kernel: an undo journal per transaction.

A real kernel write happens or it does not. The simulated kernel changes many
files for one write (``sriov_numvfs`` creates or removes whole VF trees) and then
saves its state (``.simulator/kernel.json``); a process killed in between used to
leave a tree that disagreed with the saved state for good. Now, before each
change, the journal records how to undo it (flushed before the change is made);
the first record is the saved state itself. The transaction commits by deleting
the journal, after the new state is saved. Whoever opens the host next finds an
uncommitted journal and undoes it, newest record first: the tree and the state
are then exactly as before the interrupted write. Undoing is idempotent, so a
process killed while undoing is undone again by the next one.

Fault points (tests only): ``.simulator/faults.json`` ``{"killInTransaction": n,
"afterChanges": m}`` makes the n-th transaction from now SIGKILL its own process
after its m-th change, or just before it commits if it makes fewer (its new state
already saved): the way a daemon killed mid-write dies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any, TextIO

JOURNAL_FILE = ".simulator/journal"
FAULTS_FILE = ".simulator/faults.json"


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _replace_with_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    temporary = path.with_name(f".{path.name}.undo")
    temporary.write_text(text)
    os.replace(temporary, path)


def _replace_with_link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove(path)
    path.symlink_to(target)


class Journal:
    """The undo records of one transaction, each flushed before the change it undoes."""

    def __init__(self, root: Path, saved_state: str) -> None:
        self.root = root
        self._real_root = os.path.realpath(root)
        self.changes = 0
        self._fault = _take_fault(root)
        path = root / JOURNAL_FILE
        self._file: TextIO = path.open("w")
        self._record({"state": saved_state})

    def _record(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def _relative(self, path: Path) -> str:
        """Where ``path`` really is, under the root (its directory's links resolved, not its own)."""
        return os.path.relpath(os.path.join(os.path.realpath(path.parent), path.name), self._real_root)

    def before_change(self, path: Path) -> None:
        """Remember ``path`` as it is now (missing, a file, a link or a directory tree)."""
        self.changes += 1
        if self._fault is not None and self.changes > self._fault:
            _die()
        missing = path
        while not missing.parent.exists() and missing.parent != self.root:
            missing = missing.parent
        if not (missing.exists() or missing.is_symlink()):
            self._record({"absent": self._relative(missing)})
            return
        self._snapshot(path)
        self._record({"absent": self._relative(path)})  # undone first: what the change left goes

    def _snapshot(self, path: Path) -> None:
        if path.is_symlink():
            self._record({"link": self._relative(path), "target": os.readlink(path)})
        elif path.is_file():
            self._record({"file": self._relative(path), "text": path.read_text()})
        elif path.is_dir():
            self._record({"dir": self._relative(path)})
            for child in sorted(path.iterdir()):
                self._snapshot(child)

    def commit(self) -> None:
        """The change is whole: from here on it happened."""
        if self._fault is not None:
            _die()
        self._file.close()
        (self.root / JOURNAL_FILE).unlink()

    def abandon(self) -> None:
        """The change failed half-way: undo it now (a failed kernel write changes nothing)."""
        self._file.close()
        recover(self.root)


def _die() -> None:
    """A fault point: the process is killed with the journal uncommitted."""
    os.kill(os.getpid(), signal.SIGKILL)


def _take_fault(root: Path) -> int | None:
    """After how many changes this transaction dies (None: it does not), counting the fault down."""
    path = root / FAULTS_FILE
    if not path.is_file():
        return None
    faults = json.loads(path.read_text())
    remaining = int(faults["killInTransaction"]) - 1
    if remaining > 0:
        path.write_text(json.dumps({**faults, "killInTransaction": remaining}))
        return None
    path.unlink()
    return int(faults.get("afterChanges", 1))


def recover(root: Path, state_file: str = ".simulator/kernel.json") -> bool:
    """Undo an uncommitted transaction, if there is one; True when there was."""
    path = root / JOURNAL_FILE
    if not path.is_file():
        return False
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            break  # the last record was being written: its change was never started
    for entry in reversed(entries):
        if "state" in entry:
            _replace_with_text(root / state_file, entry["state"])
        elif "absent" in entry:
            _remove(root / entry["absent"])
        elif "file" in entry:
            _replace_with_text(root / entry["file"], entry["text"])
        elif "link" in entry:
            _replace_with_link(root / entry["link"], entry["target"])
        elif "dir" in entry:
            (root / entry["dir"]).mkdir(parents=True, exist_ok=True)
    path.unlink()
    return True
