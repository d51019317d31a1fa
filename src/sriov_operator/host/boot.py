"""Which boot this is, and in which boot each of our boot-scoped facts was recorded.

A reboot undoes all we configure at run time (VFs, driver bindings, loaded
modules) but keeps our files under ``/etc``.  A fact that holds only until the
next boot (the device plugin was handed its config, a reboot was asked for) is
therefore recorded with the boot it happened in, as a *boot mark*, and read
back against the kernel's ``boot_id`` (a new random UUID at every boot).  This
module is the one place that reads the boot id and keeps the marks
(``/etc/sriov-operator/boot-marks.json``: mark -> boot id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from sriov_operator.host.root import OPERATOR_STATE_DIR, HostFileError, HostRoot
from sriov_operator.host.writer import HostWriter

BOOT_ID = "proc/sys/kernel/random/boot_id"
BOOT_MARKS_FILE = f"{OPERATOR_STATE_DIR}/boot-marks.json"

BootMark = Literal[
    "devicePluginHandedOver",  # the device plugin's config file was written in this boot
    "devicePluginWithdrawn",  # a config file from an earlier boot was removed in this boot
    "kernelArgsWritten",  # kernel arguments were written into the boot configuration in this boot
    "rebootRequested",  # the daemon asked systemd for a reboot in this boot
]


@dataclass(frozen=True)
class BootMarks:
    """The current boot (None when the host does not say) and the boot each mark was set in."""

    boot_id: str | None
    marks: Mapping[str, str] = field(default_factory=dict)

    def in_this_boot(self, mark: BootMark) -> bool:
        """Set in this boot; always false when the boot is unknown."""
        return self.boot_id is not None and self.marks.get(mark) == self.boot_id

    def without(self, mark: BootMark) -> BootMarks:
        return BootMarks(self.boot_id, {k: v for k, v in self.marks.items() if k != mark})

    def with_mark(self, mark: BootMark) -> BootMarks:
        """The marks after setting ``mark`` in this boot."""
        if self.boot_id is None:
            return self
        return BootMarks(self.boot_id, {**self.marks, mark: self.boot_id})


def read_boot_marks(host: HostRoot) -> BootMarks:
    """The boot id and our marks; HostFileError naming the file if the marks are not what we wrote."""
    path = host.path(BOOT_MARKS_FILE)
    text = host.read_state_file(path)
    marks: object = {}
    if text is not None:
        try:
            marks = json.loads(text)
        except ValueError:
            marks = None
    if not isinstance(marks, dict) or not all(isinstance(v, str) for v in marks.values()):
        raise HostFileError(
            f"{host.display(path)}: not our boot marks (a JSON object of mark to boot id); "
            "remove it and the daemon starts over as after a reboot"
        )
    return BootMarks(host.read(host.path(BOOT_ID)), marks)


def mark_this_boot(host: HostRoot, writer: HostWriter, mark: BootMark) -> None:
    """Record that ``mark`` happened in this boot (no write when it already is, or the boot is unknown)."""
    marks = read_boot_marks(host)
    if marks.boot_id is None or marks.in_this_boot(mark):
        return
    _write(host, writer, marks.with_mark(mark))


def clear_mark(host: HostRoot, writer: HostWriter, mark: BootMark) -> None:
    """Forget ``mark`` (what it recorded did not happen after all: a reboot systemd refused)."""
    marks = read_boot_marks(host)
    if mark in marks.marks:
        _write(host, writer, marks.without(mark))


def _write(host: HostRoot, writer: HostWriter, marks: BootMarks) -> None:
    text = json.dumps(dict(marks.marks), sort_keys=True) + "\n"
    writer.write_file(host.path(BOOT_MARKS_FILE), text)
