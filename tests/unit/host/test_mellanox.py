"""Mellanox firmware, pure: the mstconfig query parsed strictly, and which settings the spec needs.

Tables over ``parse_query`` (hostile output: a one-line error naming what was
unexpected) and over ``plan`` with a card's firmware as mstconfig would show it:
what is set, when a reboot is needed, the loop guard, and what an unreadable
firmware (lockdown, no mstconfig) refuses.
"""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.models import InterfaceExt, SriovNetworkNodeStateSpec
from sriov_operator.host.actions import Reboot, ResetFirmware, SetFirmwareConfig
from sriov_operator.host.mellanox import (
    FirmwareAsked,
    FirmwareConfig,
    FirmwareError,
    FirmwareFacts,
    FirmwareQueryError,
    FirmwareRead,
    Setting,
    parse_query,
)
from sriov_operator.host.plan import PlanError, plan
from sriov_operator.host.state import HostState

PF0, PF1 = "0000:3b:00.0", "0000:3b:00.1"
HEADER = "Configurations:                          Default         Current         Next Boot"
QUERY = f"""
Device #1:
----------

Device type:    ConnectX6DX
Device:         {PF0}

{HEADER}
         MEMIC_BAR_SIZE                        0               0               0
*        NUM_OF_VFS                            8               4               4
         SRIOV_EN                              True(1)         True(1)         True(1)
         LINK_TYPE_P1                          ETH(2)          ETH(2)          IB(1)
         PCI_DOWNSTREAM_PORT_OWNER             Array[0..15]    Array[0..15]    Array[0..15]
"""


def test_the_query_table_gives_default_current_and_next_boot_of_our_settings() -> None:
    config = parse_query(QUERY, PF0)
    assert config.settings == {
        "NUM_OF_VFS": Setting("8", "4", "4"),
        "SRIOV_EN": Setting("True", "True", "True"),
        "LINK_TYPE_P1": Setting("ETH", "ETH", "IB"),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-E- Failed to open device\n", "no 'Configurations: Default Current Next Boot' header"),
        (
            "Configurations:     Next Boot\n  NUM_OF_VFS  4\n",
            "no 'Configurations: Default Current Next Boot'",
        ),
        (f"{HEADER}\n  SRIOV_EN  True(1) True(1) True(1)\n", "no NUM_OF_VFS setting"),
        (f"{HEADER}\n  NUM_OF_VFS  8  4\n  SRIOV_EN True True True\n", "NUM_OF_VFS has 2 values"),
        (f"{HEADER}\n  NUM_OF_VFS  8  lots  4\n  SRIOV_EN True True True\n", "NUM_OF_VFS 'lots'"),
        (f"{HEADER}\n  NUM_OF_VFS 8 4 4\n  SRIOV_EN True Maybe(2) True\n", "SRIOV_EN 'Maybe(2)'"),
        (
            f"{HEADER}\n  NUM_OF_VFS 8 4 4\n  SRIOV_EN True True True\n  LINK_TYPE_P1 ETH(2) FC(4) ETH\n",
            "FC(4)",
        ),
        (f"{HEADER}\n  NUM_OF_VFS 8 4 4\n  NUM_OF_VFS 8 4 4\n", "NUM_OF_VFS is shown twice"),
        (HEADER + "\n" + "x" * (1024 * 1024), "more than a query"),
    ],
)
def test_hostile_query_output_is_a_one_line_error_naming_what_was_unexpected(text: str, message: str) -> None:
    with pytest.raises(FirmwareQueryError, match=f"mstconfig query of {PF0}: .*") as raised:
        parse_query(text, PF0)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def _fw(
    vfs: tuple[str, str] = ("8", "8"), sriov: tuple[str, str] = ("True", "True"), **links: str
) -> FirmwareConfig:
    settings = {"NUM_OF_VFS": Setting("0", *vfs), "SRIOV_EN": Setting("False", *sriov)}
    for name, value in links.items():
        current, _, next_boot = value.partition("/")
        settings[name] = Setting("ETH", current, next_boot or current)
    return FirmwareConfig(settings)


def _host(firmware: FirmwareRead | None, totalvfs: int = 8, **facts: Any) -> HostState:
    pfs = [
        InterfaceExt(
            pci_address=pci,
            name=f"ens1f{n}",
            vendor="15b3",
            driver="mlx5_core",
            totalvfs=totalvfs,
            num_vfs=0,
            link_type="ETH",
            link_admin_state="up",
            mtu=1500,
        )
        for n, pci in enumerate((PF0, PF1))
    ]
    cards = {} if firmware is None else {PF0: firmware}
    return HostState(platform="baremetal", interfaces=pfs, firmware=FirmwareFacts(cards, **facts))


def _spec(*ports: dict[str, Any]) -> SriovNetworkNodeStateSpec:
    return SriovNetworkNodeStateSpec.model_validate({"interfaces": list(ports)})


def _firmware_actions(spec: SriovNetworkNodeStateSpec, host: HostState) -> list[Any]:
    return [a for a in plan(spec, host).actions if isinstance(a, SetFirmwareConfig | ResetFirmware | Reboot)]


@pytest.mark.parametrize(
    ("firmware", "ports", "expected", "reboot"),
    [
        # the largest numVfs of the card's ports, only ever raised
        (_fw(("8", "8")), [(PF0, 16, None), (PF1, 4, None)], {"NUM_OF_VFS": "16"}, [f"{PF0} NUM_OF_VFS=16"]),
        (_fw(("32", "32")), [(PF0, 16, None)], None, []),
        # SR-IOV off: NUM_OF_VFS counts for nothing until it is on
        (
            _fw(("16", "16"), ("False", "False")),
            [(PF0, 8, None)],
            {"SRIOV_EN": "True"},
            [f"{PF0} SRIOV_EN=True"],
        ),
        # already asked for the next boot: no set, only the reboot
        (_fw(("8", "16")), [(PF0, 16, None)], None, [f"{PF0} NUM_OF_VFS=16"]),
        # runs as needed but the next boot would lose it: set again, no reboot
        (_fw(("16", "4")), [(PF0, 16, None)], {"NUM_OF_VFS": "16"}, []),
        # link type per port: port 2 is LINK_TYPE_P2
        (
            _fw(LINK_TYPE_P1="ETH", LINK_TYPE_P2="ETH"),
            [(PF1, 4, "IB")],
            {"LINK_TYPE_P2": "IB"},
            [f"{PF0} LINK_TYPE_P2=IB"],
        ),
        (_fw(LINK_TYPE_P1="ETH"), [(PF0, 4, "eth")], None, []),
    ],
)
def test_firmware_settings_the_spec_needs(
    firmware: FirmwareConfig,
    ports: list[tuple[str, int, str | None]],
    expected: dict[str, str] | None,
    reboot: list[str],
) -> None:
    spec = _spec(*({"pciAddress": p, "numVfs": n, **({"linkType": t} if t else {})} for p, n, t in ports))
    host = _host(FirmwareRead(firmware), totalvfs=64)
    actions = _firmware_actions(spec, host)
    sets = [a for a in actions if isinstance(a, SetFirmwareConfig)]
    assert (dict(sets[0].values) if sets else None) == expected
    reboots = [a for a in actions if isinstance(a, Reboot)]
    assert (list(reboots[0].firmware) if reboots else []) == reboot
    if reboot:  # nothing else is planned before the reboot: it would undo it
        assert all(
            isinstance(a, SetFirmwareConfig | ResetFirmware | Reboot) for a in plan(spec, host).actions
        )
        assert plan(spec, host).requires_reboot


def test_the_reset_gate_reloads_the_firmware_before_the_reboot() -> None:
    spec = _spec({"pciAddress": PF0, "numVfs": 16})
    without = _firmware_actions(spec, _host(FirmwareRead(_fw())))
    assert [type(a) for a in without] == [SetFirmwareConfig, Reboot]
    gated = _firmware_actions(spec, _host(FirmwareRead(_fw()), reset_allowed=True))
    assert [type(a) for a in gated] == [SetFirmwareConfig, ResetFirmware, Reboot]
    assert gated[1].ports == (PF0, PF1)


def test_loop_guard_a_setting_asked_before_the_last_reboot_and_not_running_fails_without_a_reboot() -> None:
    spec = _spec({"pciAddress": PF0, "numVfs": 8})
    asked = {PF0: FirmwareAsked({"SRIOV_EN": "True", "NUM_OF_VFS": "8"}, in_this_boot=False)}
    stuck = _host(FirmwareRead(_fw(("4", "8"))), asked=asked)
    with pytest.raises(FirmwareError) as raised:
        plan(spec, stuck)
    assert str(raised.value).startswith(
        f"firmware of {PF0} still has NUM_OF_VFS=4 after a reboot that should have made it 8; "
        "not rebooting again"
    )
    in_this_boot = {PF0: FirmwareAsked({"NUM_OF_VFS": "8"}, in_this_boot=True)}
    waiting = plan(spec, _host(FirmwareRead(_fw(("4", "8"))), asked=in_this_boot))
    assert waiting.requires_reboot  # asked in this boot: the reboot is still to come
    more = _spec({"pciAddress": PF0, "numVfs": 16})  # the reboot did its job; the spec now wants more
    done = {PF0: FirmwareAsked({"NUM_OF_VFS": "8"}, in_this_boot=False)}
    assert plan(more, _host(FirmwareRead(_fw(("8", "8"))), asked=done)).requires_reboot


@pytest.mark.parametrize(
    ("problem", "port", "message"),
    [
        (
            "the kernel is in lockdown (integrity), so mstconfig cannot reach the firmware",
            {"pciAddress": PF0, "numVfs": 16},
            f"{PF0} (ens1f0): numVfs 16 is more than the 8 VFs its firmware offers now; "
            f"raising NUM_OF_VFS on {PF0} needs its firmware settings, "
            "and the kernel is in lockdown (integrity)",
        ),
        (
            "mstconfig is not installed on the host (package mstflint)",
            {"pciAddress": PF1, "numVfs": 2, "linkType": "IB"},
            f"{PF1} (ens1f1): linkType IB, the port runs ETH; changing LINK_TYPE_P2 on {PF0} "
            "needs its firmware settings, and mstconfig is not installed",
        ),
    ],
)
def test_an_unreadable_firmware_refuses_what_needs_it_naming_the_pf(
    problem: str, port: dict[str, Any], message: str
) -> None:
    with pytest.raises(FirmwareError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        plan(_spec(port), _host(FirmwareRead(problem=problem)))
    within = plan(_spec({"pciAddress": PF0, "numVfs": 8}), _host(FirmwareRead(problem=problem)))
    assert not within.requires_reboot  # what the firmware offers is enough: nothing to refuse


def test_an_externally_managed_pf_never_gets_a_firmware_change() -> None:
    spec = _spec({"pciAddress": PF0, "numVfs": 16, "externallyManaged": True})
    with pytest.raises(
        FirmwareError,
        match=f"{PF0} \\(ens1f0\\): externally managed, but its firmware runs "
        "NUM_OF_VFS=8 and the spec needs 16",
    ):
        plan(spec, _host(FirmwareRead(_fw())))


def test_without_a_firmware_read_the_plan_is_as_before() -> None:
    """``diff`` prices from a NodeState's status alone: the sysfs limit stands."""
    with pytest.raises(PlanError, match="numVfs 16 is more than the device's 8"):
        plan(_spec({"pciAddress": PF0, "numVfs": 16}), _host(None))
