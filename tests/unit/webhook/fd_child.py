"""A webhook server in its own process (run with a low open-file limit by test_connections.py).

Prints ``port <n> cap <n>``, then obeys lines on stdin: ``exhaust`` (open files
until none are left, print ``exhausted``), ``release`` (close them, print
``released``), ``stop``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from sriov_operator.webhook.server import ServerSettings
from tests.unit.webhook.serving import serving


async def main(directory: Path) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    loop = asyncio.get_running_loop()
    async with serving(directory, ServerSettings("127.0.0.1", 0)) as (server, _):
        print(f"port {server.port} cap {server.connections.cap}", flush=True)
        held = []
        while True:
            command = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if command == "exhaust":
                try:
                    while True:
                        held.append(open("/dev/null"))  # noqa: SIM115 - held open on purpose
                except OSError:
                    print("exhausted", flush=True)
            elif command == "release":
                for handle in held:
                    handle.close()
                held.clear()
                print("released", flush=True)
            else:
                return


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
