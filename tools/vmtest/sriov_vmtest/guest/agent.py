"""The guest agent (PID 1 of a test guest): runs the host's commands, one JSON line each way.

The channel is a virtio-serial port named ``sriov.agent``.  The first line the
agent writes is ``{"ready": ...}``; then each request
``{"argv": [...], "input": "...", "timeout": s}`` gets
``{"returncode", "stdout", "stderr", "seconds"}``.  Standard library only: this
runs under the guest's own python3, outside the project's dependencies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

PORT_NAME = "sriov.agent"
PORTS = "/sys/class/virtio-ports"


def find_port() -> str:
    for _ in range(300):
        for entry in sorted(os.listdir(PORTS)) if os.path.isdir(PORTS) else []:
            with open(f"{PORTS}/{entry}/name") as name:
                if name.read().strip() == PORT_NAME:
                    return f"/dev/{entry}"
        time.sleep(0.1)
    raise SystemExit(f"agent: no virtio-serial port named {PORT_NAME}")


def handle(request: dict[str, object]) -> dict[str, object]:
    started = time.monotonic()
    timeout = float(request.get("timeout", 300))  # type: ignore[arg-type]
    try:
        done = subprocess.run(
            [str(arg) for arg in request["argv"]],  # type: ignore[attr-defined]
            input=str(request.get("input", "")),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired:
        code, out, err = 124, "", f"agent: timed out after {timeout:g} s"
    except OSError as error:
        code, out, err = 127, "", f"agent: {error}"
    return {"returncode": code, "stdout": out, "stderr": err, "seconds": round(time.monotonic() - started, 3)}


def send(fd: int, message: dict[str, object]) -> None:
    view = memoryview((json.dumps(message) + "\n").encode())
    while view:
        view = view[os.write(fd, view) :]


def main() -> None:
    fd = os.open(find_port(), os.O_RDWR)
    with open("/proc/uptime") as uptime:
        booted = float(uptime.read().split()[0])
    send(fd, {"ready": True, "kernel": os.uname().release, "uptimeSeconds": booted})
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            time.sleep(0.05)  # host not connected (yet, or any more)
            continue
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            send(fd, handle(json.loads(line)))


if __name__ == "__main__":
    try:
        main()
    except BaseException as error:  # PID 1 must not die silently: say why on the console
        print(f"agent: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        raise
