"""The guest's ``sriov-operator`` fork server: import the project once, fork a process per command.

Under emulation (TCG) a fresh ``python3`` spends most of a command's time importing
the project and its dependencies (pydantic, aiohttp, ...), for every ``discover``,
``plan``, ``apply`` and ``daemon`` a test runs.  init.sh starts this server in the
background at boot; it imports the command line once, then serves `forkclient.py`
(the guest's ``sriov-operator``) on a Unix socket: per connection it forks a session
process, which forks the command.  The command gets the client's standard streams
(passed as file descriptors), argument list, environment, working directory and
umask, and runs ``sriov_operator.cli.main`` like a fresh interpreter (it returns to
this module's top level and exits through the interpreter's normal shutdown).
The session process sends the command's process id, then its exit status; if the
client goes away first, the command is killed with it.

Protocol, one JSON line each way: the client sends
``{"argv", "env", "cwd", "umask"}`` with its descriptors 0, 1, 2 attached
(SCM_RIGHTS); the session answers ``{"pid": N}``, then ``{"status": S}`` with
S as `os.waitstatus_to_exitcode` gives it (negative: killed by signal -S).
Standard library and the project only: this runs under the guest's python3.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
from typing import Any

# the same default as forkclient.py's; the variable lets a test run both outside a guest
SOCKET = os.environ.get("SRIOV_OPERATOR_FORKSERVER", "/run/sriov-operator-forkserver.sock")
MAX_REQUEST = 1 << 20


def preload() -> None:
    """Import everything a command imports, so forked commands start with it in memory."""
    from sriov_operator import cli

    cli.build_parser()  # imports every command module (and through them the host and daemon code)
    import pyroute2  # noqa: F401 - a dependency the netlink helpers import on first use


def receive_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
    while data and not data.endswith(b"\n"):
        more = conn.recv(MAX_REQUEST)
        if not more:
            break
        data += more
    request: dict[str, Any] = json.loads(data)
    return request, fds


def send(conn: socket.socket, message: dict[str, object]) -> None:
    conn.sendall((json.dumps(message) + "\n").encode())


def become_command(request: dict[str, Any], fds: list[int]) -> list[str]:
    """In the forked command: take over the client's streams and context; returns the arguments."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout.reconfigure(line_buffering=sys.stdout.isatty())  # type: ignore[union-attr] # as at start-up
    os.chdir(str(request["cwd"]))
    os.umask(int(request["umask"]))
    os.environ.clear()
    os.environ.update({str(key): str(value) for key, value in request["env"].items()})
    argv = [str(arg) for arg in request["argv"]]
    sys.argv = ["sriov-operator", *argv]
    return argv


def watch(conn: socket.socket, pid: int) -> int:
    """Wait for the command; kill it if the client goes away first. Returns the wait status."""
    pidfd = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([pidfd, conn.fileno()], [], [])
        if pidfd in ready:
            return os.waitpid(pid, 0)[1]
        if not conn.recv(4096):  # the client ended (or was killed): so does its command
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]


def session(conn: socket.socket) -> list[str]:
    """In a session process: start the command; returns its arguments in the command, never here."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # this process waits for its command
    try:
        request, fds = receive_request(conn)
    except (OSError, ValueError):
        os._exit(1)  # the client sees the connection close and runs the command itself
    pid = os.fork()
    if pid == 0:
        conn.close()
        return become_command(request, fds)
    for fd in fds:
        os.close(fd)
    status: int | None = None
    try:
        send(conn, {"pid": pid})
        status = watch(conn, pid)
        send(conn, {"status": os.waitstatus_to_exitcode(status)})
    except OSError:
        pass  # the client went away (its end of the socket is gone)
    finally:
        if status is None:  # the command must not outlive its client
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os._exit(0)


def serve() -> list[str]:
    """Listen, import, then fork a session per connection; returns a command's arguments in the command."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    listener.bind(SOCKET)
    listener.listen(64)  # clients that come while the imports run wait in the backlog
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # sessions are reaped by the kernel
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            return session(conn)
        conn.close()


if __name__ == "__main__":
    arguments = serve()
    from sriov_operator.cli import main

    sys.exit(main(arguments))
