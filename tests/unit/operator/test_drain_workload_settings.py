"""The drain and workload flags: defaults, environment variables, one-line errors."""

from __future__ import annotations

import argparse

import pytest

from sriov_operator.commands.operator import add_operator_arguments, operator_settings_from
from sriov_operator.errors import BadInputError
from sriov_operator.operator.drain.settings import add_drain_arguments, drain_settings_from
from sriov_operator.operator.workloads.settings import (
    add_workload_arguments,
    default_operator_image,
    is_pinned,
    workload_settings_from,
)


def parse(argv: list[str], environ: dict[str, str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_drain_arguments(parser, environ=environ or {})
    add_workload_arguments(parser, environ=environ or {})
    return parser.parse_args(argv)


def test_defaults_are_a_ten_minute_deadline_and_no_forcing() -> None:
    settings = drain_settings_from(parse([]), namespace="ns", resource_prefix="openshift.io")
    assert (settings.deadline, settings.force_past_pdb, settings.retry_base, settings.retry_max) == (
        600.0,
        False,
        30.0,
        1800.0,
    )


def test_environment_sets_defaults_and_flags_win() -> None:
    environ = {"SRIOV_OPERATOR_DRAIN_DEADLINE": "120", "SRIOV_OPERATOR_DRAIN_FORCE_PAST_PDB": "true"}
    settings = drain_settings_from(parse([], environ), namespace="ns", resource_prefix="p")
    assert (settings.deadline, settings.force_past_pdb) == (120.0, True)
    settings = drain_settings_from(
        parse(["--drain-deadline", "60"], environ), namespace="ns", resource_prefix="p"
    )
    assert settings.deadline == 60.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--drain-deadline", "0"], "--drain-deadline: 0.0 must be > 0 (seconds)"),
        (
            ["--drain-retry-base", "60", "--drain-retry-max", "30"],
            "--drain-retry-max: 30.0 must be >= --drain-retry-base",
        ),
        (["--operator-image", "quay.io/me/op"], "--operator-image: 'quay.io/me/op' is not pinned"),
        (["--device-plugin-image", "dp:latest"], "--device-plugin-image: 'dp:latest' is not pinned"),
        (["--ovs-cni-image", "ovs"], "--ovs-cni-image: 'ovs' is not pinned"),
        (["--cni-bin-dir", "opt/cni"], "--cni-bin-dir: 'opt/cni' is not accepted (an absolute path"),
        (["--cni-bin-dir", "/opt/../etc"], "--cni-bin-dir: '/opt/../etc' is not accepted"),
        (["--image-pull-secrets", "ok, Bad_Name"], "--image-pull-secrets: 'Bad_Name' is not a Secret name"),
        (
            ["--webhook-tls-ciphers", "NO-SUCH-CIPHER"],
            "--webhook-tls-ciphers: 'NO-SUCH-CIPHER' names no cipher",
        ),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_flag(argv: list[str], message: str) -> None:
    args = parse(argv)
    with pytest.raises(BadInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        drain_settings_from(args, namespace="ns", resource_prefix="p")
        workload_settings_from(args, namespace="ns", resource_prefix="p")


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.9.0", True),
        ("registry:5000/op@sha256:abc", True),
        ("registry:5000/op", False),  # the port is not a tag
        ("op:latest", False),
        ("op", False),
    ],
)
def test_images_must_be_pinned(image: str, pinned: bool) -> None:
    assert is_pinned(image) is pinned


def test_the_default_operator_image_is_this_builds_version() -> None:
    assert is_pinned(default_operator_image())
    settings = workload_settings_from(parse([]), namespace="ns", resource_prefix="p")
    assert settings.daemon_image == default_operator_image()
    assert settings.device_plugin_image.endswith(":v3.9.0")


def test_the_operator_command_carries_the_drain_and_image_flags_into_its_settings() -> None:
    parser = argparse.ArgumentParser()
    add_operator_arguments(parser, environ={"SRIOV_OPERATOR_DRAIN_RETRY_BASE": "5"})
    args = parser.parse_args(
        [
            "--namespace",
            "ops",
            "--resource-prefix",
            "example.com",
            "--drain-deadline",
            "90",
            "--device-plugin-image",
            "registry.test/dp:v1",
        ]
    )
    settings = operator_settings_from(args)
    assert (settings.drain.deadline, settings.drain.retry_base) == (90.0, 5.0)
    assert (settings.drain.namespace, settings.drain.resource_prefix) == ("ops", "example.com")
    assert settings.workloads.device_plugin_image == "registry.test/dp:v1"
    assert settings.workloads.namespace == "ops"
