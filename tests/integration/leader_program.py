"""A small process for the leader-election tests, run as ``python -m tests.integration.leader_program``.

It uses the runtime as the operator will: runtime flags, a Manager with leader
election, one controller. While it leads, its reconcile works for
``--write-interval`` seconds, then server-side-applies the ConfigMap
``writes-<identity>`` (data ``count``), and starts over; so the tests can see
from the API server when it writes, and a process frozen mid-reconcile resumes
straight into a write.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sriov_operator.kube.resources import CONFIG_MAPS, LEASES
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.logging import configure_logging
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings, add_runtime_arguments, runtime_settings_from


async def run(settings: RuntimeSettings, interval: float) -> None:
    async with Manager(settings) as manager:
        manager.informer(LEASES, namespace=settings.namespace)  # a cache to sync before leading
        count = 0

        async def write(key: object) -> Result:
            nonlocal count
            await asyncio.sleep(interval)  # the work before the write
            count += 1
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"writes-{settings.identity}", "namespace": settings.namespace},
                "data": {"count": str(count)},
            }
            await manager.objects.apply(CONFIG_MAPS, body, field_manager="leader-test")
            return Result(requeue_after=0)

        writer = Controller("writer", write)
        writer.queue.add("tick")
        manager.add_controller(writer)
        await manager.run()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="leader_program")
    add_runtime_arguments(parser, default_lease_name="leader-test")
    parser.add_argument("--write-interval", type=float, default=0.2)
    args = parser.parse_args(argv)
    settings = runtime_settings_from(args)
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(run(settings, args.write_interval))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
