"""The InfiniBand GUID pool, pure: the GUID file's rules as a table, assignment as properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriov_operator.host.guid_pool import (
    GuidPoolError,
    GuidSource,
    IbPf,
    assign_guids,
    derived_guid,
    format_guid,
    parse_guid,
    parse_guid_file,
)

PATH = "/etc/sriov-operator/infiniband/guids"
PF0, PF1 = "0000:3b:00.0", "0000:3b:00.1"
PREFIX = "00:00:10:49:fe:80:00:00:00:00:00:00"
PORT0, PORT1 = "b8:ce:f6:03:00:a1:b2:c0", "b8:ce:f6:03:00:a1:b2:c1"


def ib_pf(pci: str, port: str, vfs: range | tuple[int, ...]) -> IbPf:
    return IbPf(pci, f"{PREFIX}:{port}", tuple(vfs))


def from_file(entries: Any) -> GuidSource:
    return GuidSource(PATH, parse_guid_file(json.dumps(entries), PATH))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("02:00:00:00:00:00:00:01", 0x0200000000000001),
        ("02-00-00-00-00-00-00-0A", 0x020000000000000A),
        ("b8ce:f603:00a1:b2c0", 0xB8CEF60300A1B2C0),  # sysfs node_guid
        ("02:00:00:00:00:00:01", None),  # seven octets
        ("02:00-00:00:00:00:00:01", None),  # mixed separators
        ("0x0200000000000001", None),
        ("", None),
    ],
)
def test_guid_forms(text: str, value: int | None) -> None:
    assert parse_guid(text) == value
    if value is not None:
        assert parse_guid(format_guid(value)) == value


GOOD = [
    {"pciAddress": PF0, "guids": ["02:00:00:00:00:00:00:01", "02:00:00:00:00:00:00:02"]},
    {"pfGuid": PORT1, "guidsRange": {"start": "02:00:00:00:00:aa:00:00", "end": "02:00:00:00:00:aa:00:0f"}},
]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", f"{PATH}: not JSON (.*); accepted: a JSON list of PF entries"),
        ({"pciAddress": PF0}, rf"{PATH}: .* is not a list; accepted: a JSON list"),
        ([7], r"guids\[0\]: 7 is not an object; accepted:"),
        (
            [{"pciAddress": PF0, "guid": []}],
            r"\[0\]\.guid: 'guid' is not a field; accepted: pciAddress, pfGuid",
        ),
        (
            [{"guids": ["02:00:00:00:00:00:00:01"]}],
            r"\[0\]: neither of pciAddress and pfGuid; accepted: exactly",
        ),
        (
            [{"pciAddress": PF0, "pfGuid": PORT0, "guids": ["02:00:00:00:00:00:00:01"]}],
            r"\[0\]: both of pciAddress and pfGuid",
        ),
        (
            [{"pciAddress": "3b:00.0", "guids": []}],
            r"\[0\]\.pciAddress: '3b:00.0' is not a PCI address; accepted",
        ),
        ([{"pfGuid": "ib0", "guids": []}], r"\[0\]\.pfGuid: 'ib0' is not a GUID; accepted: 8 hex octets"),
        ([{"pciAddress": PF0}], r"\[0\]\.guids: null is not a list of GUIDs; accepted: a non-empty list"),
        ([{"pciAddress": PF0, "guids": []}], r"\[0\]\.guids: \[\] is not a list of GUIDs"),
        (
            [{"pciAddress": PF0, "guids": ["zz"]}],
            r"\[0\]\.guids\[0\]: 'zz' is not a GUID; accepted: 8 hex octets",
        ),
        (
            [{"pciAddress": PF0, "guids": ["00:00:00:00:00:00:00:00"]}],
            r"\[0\]\.guids\[0\]: '00:00:00:00:00:00:00:00' is the unset GUID",
        ),
        (
            [{"pciAddress": PF0, "guids": ["02:00:00:00:00:00:00:01", "02:00:00:00:00:00:00:01"]}],
            r"\[0\]\.guids\[1\]: '02:00:00:00:00:00:00:01' is listed twice; accepted: each GUID once",
        ),
        (
            [{"pciAddress": PF0, "rangeStart": "02:00:00:00:00:00:00:01"}],
            r"\[0\]\.rangeEnd: missing; accepted: both ends of the range",
        ),
        (
            [
                {
                    "pciAddress": PF0,
                    "guidsRange": {"start": "02:00:00:00:00:00:00:09", "end": "02:00:00:00:00:00:00:01"},
                }
            ],
            r"\[0\]\.guidsRange\.end: '02:00:00:00:00:00:00:01' is below the range's start; "
            r"accepted: end >= start",
        ),
        (
            [{"pciAddress": PF0, "guidsRange": "02:00:00:00:00:00:00:01"}],
            r"\[0\]\.guidsRange: '02:00:00:00:00:00:00:01' is not a range",
        ),
        (
            [
                {
                    "pciAddress": PF0,
                    "guidsRange": {"start": "02:00:00:00:00:00:00:01", "end": "02:00:00:00:00:00:00:02"},
                    "rangeStart": "02:00:00:00:00:00:00:01",
                }
            ],
            r"\[0\]: guidsRange and rangeStart/rangeEnd; accepted: one of the two forms",
        ),
        (
            [
                {
                    "pciAddress": PF0,
                    "guids": ["02:00:00:00:00:00:00:03"],
                    "rangeStart": "02:00:00:00:00:00:00:01",
                    "rangeEnd": "02:00:00:00:00:00:00:02",
                }
            ],
            r"\[0\]: guids and a range; accepted: a guids list or a range, not both",
        ),
        (
            [*GOOD, {"pciAddress": PF0, "guids": ["02:00:00:00:00:00:0b:01"]}],
            rf"\[2\]: '{PF0}' names the PF of {PATH}\[0\] again; accepted: one entry per PF",
        ),
        (
            [*GOOD, {"pciAddress": "0000:5e:00.0", "guids": ["02:00:00:00:00:aa:00:07"]}],
            rf"\[2\]: '02:00:00:00:00:aa:00:07' is also a GUID of {PATH}\[1\]; "
            r"accepted: entries without shared",
        ),
    ],
)
def test_a_malformed_guid_file_is_one_line_naming_the_field_the_value_and_what_is_accepted(
    document: Any, message: str
) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(GuidPoolError, match=message) as caught:
        parse_guid_file(text, PATH)
    assert "\n" not in str(caught.value)


def test_vf_n_takes_the_entrys_nth_guid_by_pci_address_pf_guid_or_ipoib_address() -> None:
    old_form = {
        "pciAddress": PF1,
        "rangeStart": "02:00:00:00:00:bb:00:00",
        "rangeEnd": "02:00:00:00:00:bb:00:03",
    }
    by_address = {"pfGuid": f"{PREFIX}:{PORT1}", "guids": ["02:00:00:00:00:cc:00:01"]}
    pfs = [ib_pf(PF0, PORT0, (0, 1)), ib_pf(PF1, PORT1, (0, 3))]
    assert assign_guids(pfs, from_file(GOOD)) == {
        (PF0, 0): 0x0200000000000001,
        (PF0, 1): 0x0200000000000002,
        (PF1, 0): 0x0200000000AA0000,  # guidsRange, named by the PF's port GUID
        (PF1, 3): 0x0200000000AA0003,
    }
    assert assign_guids(pfs[1:], from_file([GOOD[0], old_form]))[(PF1, 3)] == 0x0200000000BB0003
    assert assign_guids([ib_pf(PF1, PORT1, (0,))], from_file([by_address]))[(PF1, 0)] == 0x0200000000CC0001


@pytest.mark.parametrize(
    ("pfs", "message"),
    [
        (
            [ib_pf(PF0, PORT0, range(3))],
            rf"{PATH}\[0\]: GUID pool exhausted for PF {PF0}: it holds 2 GUIDs, for VFs 0-1, but the spec "
            r"has VF 2 \(3 VFs in groups\); add GUIDs to the entry or lower numVfs",
        ),
        (
            [ib_pf("0000:5e:00.0", "b8:ce:f6:03:00:00:00:09", (0,))],
            rf"{PATH}: no entry for PF 0000:5e:00.0 \(port GUID b8:ce:f6:03:00:00:00:09\), "
            r"whose VFs need GUIDs",
        ),
    ],
)
def test_a_pool_that_cannot_cover_the_vfs_names_the_pf_and_the_counts(pfs: list[IbPf], message: str) -> None:
    with pytest.raises(GuidPoolError, match=message):
        assign_guids(pfs, from_file(GOOD))


def test_one_pf_named_by_two_entries_is_refused() -> None:
    twice = [GOOD[0], {"pfGuid": PORT0, "guids": ["02:00:00:00:00:dd:00:01"]}]
    with pytest.raises(GuidPoolError, match=rf"\[0\] and {PATH}\[1\] both name PF {PF0}"):
        assign_guids([ib_pf(PF0, PORT0, (0,))], from_file(twice))


def test_a_broken_file_fails_only_a_plan_that_needs_guids() -> None:
    broken = GuidSource(PATH, problem=f"{PATH}: not JSON")
    assert assign_guids([ib_pf(PF0, PORT0, ())], broken) == {}
    with pytest.raises(GuidPoolError, match="not JSON"):
        assign_guids([ib_pf(PF0, PORT0, (0,))], broken)


def test_derived_guids_are_locally_administered_unicast_and_need_the_pf_port_guid() -> None:
    guids = assign_guids([ib_pf(PF0, PORT0, range(8))], GuidSource())
    assert all(guid >> 56 & 0x03 == 0x02 for guid in guids.values())
    with pytest.raises(GuidPoolError, match=f"{PF0}: no port GUID to derive its VFs' GUIDs from"):
        assign_guids([IbPf(PF0, None, (0,))], GuidSource())


def test_derived_guids_that_collide_are_derived_again_in_address_and_index_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A hash that gives every VF the same first answer: the later VFs must move on, never share it.
    import sriov_operator.host.guid_pool as pool

    monkeypatch.setattr(pool, "derived_guid", lambda port, vf, attempt=0: 0x0200000000000000 + attempt)
    guids = assign_guids([ib_pf(PF1, PORT1, (0,)), ib_pf(PF0, PORT0, (1, 0))], GuidSource())
    assert guids == {(PF0, 0): 0x0200000000000000, (PF0, 1): 0x0200000000000001, (PF1, 0): 0x0200000000000002}


ports = st.integers(min_value=1, max_value=2**64 - 1).map(format_guid)
vf_sets = st.sets(st.integers(min_value=0, max_value=127), max_size=12).map(lambda ids: tuple(sorted(ids)))
hosts = st.dictionaries(
    st.integers(min_value=0, max_value=0xFF).map(lambda bus: f"0000:{bus:02x}:00.0"),
    st.tuples(ports, vf_sets),
    max_size=5,
).filter(lambda pfs: len({port for port, _ in pfs.values()}) == len(pfs))


def _pfs(host: dict[str, tuple[str, tuple[int, ...]]]) -> list[IbPf]:
    return [ib_pf(pci, port, vfs) for pci, (port, vfs) in host.items()]


def _pool_file(host: dict[str, tuple[str, tuple[int, ...]]]) -> GuidSource:
    """One range of 128 per PF, the PFs' ranges side by side (so a GUID off by one lands in a neighbour's)."""
    entries = [
        {
            "pciAddress": pci,
            "rangeStart": format_guid(0x0200 << 48 | n << 7),
            "rangeEnd": format_guid(0x0200 << 48 | n << 7 | 127),
        }
        for n, pci in enumerate(sorted(host))
    ]
    return from_file(entries)


@given(hosts, st.randoms())
def test_the_same_host_gives_the_same_guids_whatever_the_order_and_none_is_given_twice(
    host: dict[str, tuple[str, tuple[int, ...]]], shuffle: Any
) -> None:
    for source in (GuidSource(), _pool_file(host)):
        first = assign_guids(_pfs(host), source)
        shuffled = _pfs(host)
        shuffle.shuffle(shuffled)
        assert assign_guids(shuffled, source) == first
        assert set(first) == {(pci, vf) for pci, (_, vfs) in host.items() for vf in vfs}
        assert len(set(first.values())) == len(first)  # across VFs and across PFs
        assert 0 not in first.values()


@given(hosts, st.data())
def test_a_vf_keeps_its_guid_when_the_other_vfs_change(
    host: dict[str, tuple[str, tuple[int, ...]]], data: Any
) -> None:
    """Adding or removing VFs (numVfs, vfRange) never moves the GUID of a VF that stays."""
    for source in (GuidSource(), _pool_file(host)):
        before = assign_guids(_pfs(host), source)
        fewer = {
            pci: (port, tuple(data.draw(st.sets(st.sampled_from(vfs))) if vfs else ()))
            for pci, (port, vfs) in host.items()
        }
        after = assign_guids(_pfs(fewer), source)
        assert all(before[key] == guid for key, guid in after.items())


def test_derivation_is_fixed_across_versions() -> None:
    """A node upgraded to a new operator version must not see its VFs' derived GUIDs change."""
    assert format_guid(derived_guid(0xB8CEF60300A1B2C0, 0)) == "3a:be:9e:85:de:81:c6:51"


small_guids = st.integers(min_value=1, max_value=40)
entry_guids = st.one_of(
    st.sets(small_guids, min_size=1, max_size=4).map(lambda guids: ("list", sorted(guids))),
    st.tuples(small_guids, st.integers(min_value=0, max_value=6)).map(
        lambda r: ("range", [r[0], r[0] + r[1]])
    ),
)


@given(st.lists(entry_guids, min_size=1, max_size=5))
def test_a_file_is_refused_exactly_when_two_entries_share_a_guid(drawn: list[tuple[str, list[int]]]) -> None:
    entries: list[dict[str, Any]] = []
    held: list[set[int]] = []
    for number, (form, values) in enumerate(drawn):
        entry: dict[str, Any] = {"pciAddress": f"0000:{number:02x}:00.0"}
        if form == "list":
            entry["guids"] = [format_guid(v) for v in values]
            held.append(set(values))
        else:
            entry["guidsRange"] = {"start": format_guid(values[0]), "end": format_guid(values[1])}
            held.append(set(range(values[0], values[1] + 1)))
        entries.append(entry)
    shared = any(held[i] & held[j] for i in range(len(held)) for j in range(i))
    if shared:
        with pytest.raises(GuidPoolError, match="is also a GUID of"):
            parse_guid_file(json.dumps(entries), PATH)
    else:
        assert len(parse_guid_file(json.dumps(entries), PATH).entries) == len(entries)
