"""The guest's ``sriov-operator``: run the command in a process forked by `forkserver.py`.

Started as ``python3 -I -S forkclient.py ARGS`` (no site, no project imports: quick
under emulation).  It hands its standard streams, arguments, environment, working
directory and umask to the fork server, forwards the signals a process is stopped
with to the forked command, and ends as the command ended (same exit code, or the
same signal).  It stays alive while the command runs, so its process id stands for
the command's (a test's ``kill`` or ``test -d /proc/PID`` behaves as with a plain
process); killing it kills the command.  Without a fork server (not started, or it
went away before answering) it runs the command in this process, as a plain
``python3`` would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from types import FrameType

SOCKET = os.environ.get("SRIOV_OPERATOR_FORKSERVER", "/run/sriov-operator-forkserver.sock")
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
PLAIN = "import sys; from sriov_operator.cli import main; sys.exit(main())"


def run_plainly(argv: list[str]) -> None:
    """Replace this process with a fresh interpreter running the command (PYTHONPATH from the environment)."""
    os.execvp("python3", ["python3", "-c", PLAIN, *argv])


def read_line(conn: socket.socket, pending: bytearray) -> dict[str, int] | None:
    while b"\n" not in pending:
        try:
            chunk = conn.recv(4096)
        except InterruptedError:
            continue
        if not chunk:
            return None
        pending += chunk
    line, _, rest = bytes(pending).partition(b"\n")
    pending[:] = rest
    message: dict[str, int] = json.loads(line)
    return message


def main() -> None:
    argv = sys.argv[1:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(SOCKET)
    except OSError:
        run_plainly(argv)
    umask = os.umask(0)
    os.umask(umask)
    request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "umask": umask}
    socket.send_fds(conn, [(json.dumps(request) + "\n").encode()], [0, 1, 2])
    pending = bytearray()
    started = read_line(conn, pending)
    if started is None:
        run_plainly(argv)  # the server went away before it forked the command
        return
    pid = started["pid"]

    def forward(signum: int, frame: FrameType | None) -> None:
        del frame
        with contextlib.suppress(ProcessLookupError):  # it has just ended
            os.kill(pid, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    ended = read_line(conn, pending)
    status = 1 if ended is None else ended["status"]
    if status < 0:  # killed by a signal: end the same way
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        status = 128 - status
    sys.exit(status)


if __name__ == "__main__":
    main()
