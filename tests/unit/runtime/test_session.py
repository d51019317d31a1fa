"""Reading cluster access from a kubeconfig or a pod's environment; rejections name the field."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest
import yaml

from sriov_operator.controlplane.pki import create_pki
from sriov_operator.kube.session import (
    KubeconfigError,
    access_from_kubeconfig,
    in_cluster_access,
    in_cluster_server,
)


def kubeconfig(tmp_path: Path, user: dict[str, object], cluster: dict[str, object] | None = None) -> Path:
    pki = create_pki(tmp_path / "pki")
    path = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [
            {
                "name": "k",
                "cluster": cluster
                or {"server": "https://127.0.0.1:6443", "certificate-authority": "pki/ca.crt"},
            }
        ],
        "users": [{"name": "u", "user": user}],
    }
    path.write_text(yaml.safe_dump(config))
    assert pki.ca.cert.name == "ca.crt"
    return path


def test_client_certificate_from_data_and_ca_from_a_relative_file(tmp_path: Path) -> None:
    pki = create_pki(tmp_path / "certs")
    user = {
        "client-certificate-data": base64.b64encode(pki.admin.cert.read_bytes()).decode(),
        "client-key-data": base64.b64encode(pki.admin.key.read_bytes()).decode(),
    }
    access = access_from_kubeconfig(kubeconfig(tmp_path, user))
    assert access.server == "https://127.0.0.1:6443"
    assert access.token is None
    assert access.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_token_and_token_file(tmp_path: Path) -> None:
    assert access_from_kubeconfig(kubeconfig(tmp_path, {"token": "abc"})).token == "abc"
    access = access_from_kubeconfig(kubeconfig(tmp_path, {"tokenFile": "token"}))
    assert access.token_file == tmp_path / "token"


@pytest.mark.parametrize(
    ("user", "cluster", "message"),
    [
        ({"exec": {"command": "aws"}}, None, "users[u].exec: credential plugins are not supported"),
        (
            {},
            {"server": "http://127.0.0.1:8080"},
            "clusters[k].server: 'http://127.0.0.1:8080' is not https://",
        ),
        (
            {},
            {"server": "https://127.0.0.1:6443", "tls-server-name": ""},
            "clusters[k].tls-server-name: '' is not a host name",
        ),
        (
            {"client-key-data": "%%%"},
            None,
            "users[u].client-key-data: not base64",
        ),
    ],
)
def test_unusable_kubeconfigs_are_rejected_naming_the_field(
    tmp_path: Path, user: dict[str, object], cluster: dict[str, object] | None, message: str
) -> None:
    with pytest.raises(KubeconfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        access_from_kubeconfig(kubeconfig(tmp_path, user, cluster))


def test_tls_server_name_is_read_from_the_cluster(tmp_path: Path) -> None:
    cluster = {"server": "https://169.254.0.8:443", "tls-server-name": "127.0.0.1"}
    access = access_from_kubeconfig(kubeconfig(tmp_path, {"token": "abc"}, cluster))
    assert access.server == "https://169.254.0.8:443"
    assert access.tls_server_name == "127.0.0.1"
    assert access_from_kubeconfig(kubeconfig(tmp_path, {"token": "abc"})).tls_server_name is None


def test_a_missing_kubeconfig_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="cannot read it"):
        access_from_kubeconfig(tmp_path / "absent")


def test_in_cluster_server_from_the_pod_environment(tmp_path: Path) -> None:
    assert in_cluster_server({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}) == (
        "https://10.0.0.1:443"
    )
    assert in_cluster_server({"KUBERNETES_SERVICE_HOST": "fd00::1"}) == "https://[fd00::1]:443"
    assert in_cluster_server({}) == ""
    with pytest.raises(KubeconfigError, match="not in a pod"):
        in_cluster_access("")
    with pytest.raises(KubeconfigError, match="no service account mounted"):
        in_cluster_access("https://10.0.0.1:443", tmp_path)
