"""How the control-plane binaries are found or built."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sriov_operator.controlplane import binaries


def test_staging_modules_are_replaced_by_their_published_versions() -> None:
    go_mod = "require (\n\tk8s.io/api v0.0.0\n\tk8s.io/client-go v0.0.0\n\tgithub.com/x/y v1.2.3\n)\n"
    assert binaries.staging_replaces(go_mod, "v1.36.3") == {
        "k8s.io/api": "v0.36.3",
        "k8s.io/client-go": "v0.36.3",
    }


def test_wrapper_module_requires_and_replaces() -> None:
    text = binaries.wrapper_go_mod("m", {"k8s.io/kubernetes": "v1.36.3"}, {"k8s.io/api": "v0.36.3"})
    assert "require k8s.io/kubernetes v1.36.3" in text
    assert "replace k8s.io/api => k8s.io/api v0.36.3" in text


def test_version_is_stamped_into_the_apiserver() -> None:
    flags = binaries.version_ldflags("v1.36.3")
    assert "k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "gitMinor=36" in flags


def _executable(path: Path) -> None:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_kubebuilder_assets_are_used_when_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"):
        _executable(tmp_path / name)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    found = binaries.ensure_binaries()
    assert (found.kube_apiserver, found.etcd, found.source) == (
        tmp_path / "kube-apiserver",
        tmp_path / "etcd",
        "KUBEBUILDER_ASSETS",
    )
    assert (found.kube_controller_manager, found.kube_scheduler) == (
        tmp_path / "kube-controller-manager",
        tmp_path / "kube-scheduler",
    )


def test_controllers_missing_from_the_assets_come_from_their_own_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets, cache = tmp_path / "assets", tmp_path / "cache"
    assets.mkdir()
    _executable(assets / "kube-apiserver")
    _executable(assets / "etcd")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    monkeypatch.setenv("SRIOV_OPERATOR_CACHE", str(cache))
    built = binaries.controllers_dir()
    built.mkdir(parents=True)
    for name in binaries.CONTROLLERS:
        _executable(built / name)
    found = binaries.ensure_binaries()
    assert found.kube_scheduler == built / "kube-scheduler"
    assert found.kube_apiserver == assets / "kube-apiserver"


def test_the_controllers_cache_entry_is_apart_from_the_apiservers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change of the controllers' recipe must not throw the apiserver/etcd build away (and back)."""
    assert binaries.controllers_dir() != binaries.binary_dir()
    monkeypatch.setattr(binaries, "CONTROLLERS_RECIPE", "r99")
    before = binaries.binary_dir()
    assert binaries.controllers_dir().name.endswith("_r99") and binaries.binary_dir() == before


def test_incomplete_kubebuilder_assets_say_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executable(tmp_path / "etcd")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    with pytest.raises(binaries.BinariesUnavailableError, match="lacks executable kube-apiserver"):
        binaries.ensure_binaries()


def test_cache_lives_outside_the_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SRIOV_OPERATOR_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert binaries.binary_dir().is_relative_to(tmp_path / "sriov-operator")
    assert binaries.KUBERNETES_VERSION in binaries.binary_dir().name
