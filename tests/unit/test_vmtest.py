"""The VM toolkit without a VM: module order, apt output, the initramfs, QEMU's arguments, the relay."""

from __future__ import annotations

import io
import re
import shlex
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

import sriov_vmtest
from sriov_operator.api.platforms import platform_from_provider_id
from sriov_operator.controlplane.pki import create_pki
from sriov_operator.controlplane.process import write_kubeconfig
from sriov_operator.errors import BadInputError
from sriov_operator.kube.session import access_from_kubeconfig
from sriov_vmtest.apt import first_dependency, install_order
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.command import build_parser
from sriov_vmtest.cpio import write_newc
from sriov_vmtest.kmod import load_order
from sriov_vmtest.machine import (
    GUEST_TOOLS,
    METADATA_ADDRESS,
    GuestForward,
    MachineSpec,
    checkout,
    isolated,
    kernel_command_line,
    qemu_arguments,
)
from sriov_vmtest.profiles import baremetal_host, baremetal_worker, openstack_vm
from sriov_vmtest.recipe import bundle_dir, default_recipe
from sriov_vmtest.relay import UnixToLoopbackBridge
from sriov_vmtest.worker import (
    API_PROBE,
    KUBE_API_ADDRESS,
    KUBE_API_PORT,
    ApiServerAccess,
    daemon_argv,
    guest_kubeconfig,
    instance_uuid,
    node_manifest,
)
from tests.docs_examples import example
from tests.support import REPO_ROOT

MODULES_DEP = """kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko
kernel/fs/netfs/netfs.ko:
"""


def test_modules_load_after_their_dependencies_once_each_and_builtins_are_skipped() -> None:
    order = load_order(MODULES_DEP, "kernel/lib/crc16.ko\n", ["ext4", "9pnet-virtio", "9p"])
    assert order == [
        "kernel/fs/jbd2/jbd2.ko",
        "kernel/fs/mbcache.ko",
        "kernel/fs/ext4/ext4.ko",
        "kernel/net/9p/9pnet.ko",
        "kernel/net/9p/9pnet_virtio.ko",
        "kernel/fs/netfs/netfs.ko",
        "kernel/fs/9p/9p.ko",
    ]


def test_an_unknown_module_is_named() -> None:
    with pytest.raises(KeyError, match="virtio_blk"):
        load_order(MODULES_DEP, "", ["virtio_blk"])


def test_apt_simulation_and_depends_output_are_read() -> None:
    simulation = (
        "Inst gcc-14-base (14.2.0-19 Debian:13.2/stable [amd64])\n"
        "Inst libc6 [2.36-9] (2.41-12 Debian:13.2/stable [amd64])\n"
        "Conf libc6 (2.41-12 Debian:13.2/stable [amd64])\n"
    )
    assert install_order(simulation) == [("gcc-14-base", "14.2.0-19"), ("libc6", "2.41-12")]
    assert first_dependency("linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n") == (
        "linux-image-6.1.0-56-amd64"
    )
    assert first_dependency("busybox-static\n") is None


def _read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    entries: dict[str, tuple[int, bytes]] = {}
    offset = 0
    while True:
        header = data[offset : offset + 110]
        assert header[:6] == b"070701"
        fields = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        name_start = offset + 110
        name = data[name_start : name_start + name_size - 1].decode()
        body_start = name_start + name_size + (-(110 + name_size) % 4)
        body = data[body_start : body_start + size]
        offset = body_start + size + (-size % 4)
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, body)


def test_initramfs_archive_keeps_files_modes_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "init").write_text("#!/bin/busybox sh\n")
    (tmp_path / "init").chmod(0o755)
    (tmp_path / "bin/sh").symlink_to("busybox")
    stream = io.BytesIO()
    write_newc(tmp_path, stream)
    entries = _read_newc(stream.getvalue())
    assert sorted(entries) == ["bin", "bin/sh", "init"]
    assert entries["init"] == (0o100755, b"#!/bin/busybox sh\n")
    assert entries["bin/sh"][1] == b"busybox"
    assert entries["bin"][0] & 0o040000


def _arguments(spec: MachineSpec) -> list[str]:
    bundle = Bundle(Path("/cache/vm/r"))
    return qemu_arguments(spec, bundle, Path("/run/vm"), Path("/src"), "tcg")


def test_openstack_vm_user_network_is_restricted_and_forwards_only_the_metadata_address() -> None:
    args = _arguments(openstack_vm(Path("/tmp/config-2.iso"), Path("/tmp/metadata.sock")))
    netdevs = [args[i + 1] for i, arg in enumerate(args) if arg == "-netdev"]
    assert len(netdevs) == 1  # only the management port has a network
    assert "restrict=on" in netdevs[0]
    assert f"guestfwd=tcp:{METADATA_ADDRESS}:80-cmd:" in netdevs[0]
    assert netdevs[0].endswith("-m sriov_vmtest.relay /tmp/metadata.sock")
    assert "type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova" in args
    assert "ide-cd,drive=configdrive,bus=ide.0" in args
    assert "local,path=/src,mount_tag=project,security_model=none,readonly=on" in args


def test_the_guest_scripts_are_the_toolkits_package_data_shared_into_every_guest() -> None:
    """The guest runs init.sh, the agent and the probes from the installed toolkit, not from a
    checkout's layout: the initramfs mounts the share and starts init.sh from it."""
    args = _arguments(baremetal_host(viommu=False))
    shares = [args[i + 1] for i, arg in enumerate(args) if arg == "-virtfs"]
    guest_share = next(share for share in shares if "mount_tag=vmtest" in share)
    guest_dir = Path(guest_share.split("path=")[1].split(",")[0])
    assert guest_dir.parent == Path(sriov_vmtest.__file__).parent  # the installed package's own files
    scripts = ("init.sh", "initramfs-init", "agent.py", "api_probe.py", "use-vfio.sh", "vfio_probe.py")
    for script in (*scripts, "forkserver.py", "forkclient.py"):
        assert (guest_dir / script).is_file(), script
    initramfs_init = (guest_dir / "initramfs-init").read_text()
    assert f"vmtest /newroot{GUEST_TOOLS} " in initramfs_init
    assert initramfs_init.rstrip().endswith(f"switch_root /newroot /bin/sh {GUEST_TOOLS}/init.sh")
    init = (guest_dir / "init.sh").read_text()
    assert f"python3 {GUEST_TOOLS}/agent.py" in init
    assert f"python3 {GUEST_TOOLS}/forkserver.py" in init  # sriov-operator runs in its forks
    assert f'exec python3 -I -S {GUEST_TOOLS}/forkclient.py "$@"' in init
    assert (guest_dir / Path(API_PROBE).relative_to(GUEST_TOOLS)).is_file()  # a VM worker's first probe


def test_a_guest_runs_the_checkout_it_is_given_and_a_directory_that_is_none_is_a_clear_error(
    tmp_path: Path,
) -> None:
    assert checkout(REPO_ROOT, "--project") == REPO_ROOT.resolve()
    with pytest.raises(
        BadInputError, match=rf"^--project: {tmp_path} is not a checkout .*no src/sriov_operator/"
    ):
        checkout(tmp_path, "--project")
    args = build_parser().parse_args(["run", "--project", str(tmp_path), "--", "true"])
    with pytest.raises(BadInputError, match=r"--project: .* is not a checkout"):
        args.handler(args)


def test_each_guest_forward_is_relayed_to_its_own_socket() -> None:
    api = GuestForward("169.254.0.8", 443, Path("/tmp/kube-api.sock"))
    args = _arguments(openstack_vm(None, Path("/tmp/metadata.sock"), forwards=(api,)))
    netdev = next(args[i + 1] for i, arg in enumerate(args) if arg == "-netdev")
    forwards = netdev.split(",guestfwd=")[1:]
    assert forwards[0].startswith(f"tcp:{METADATA_ADDRESS}:80-cmd:")
    assert forwards[0].endswith("relay /tmp/metadata.sock")
    assert forwards[1].startswith("tcp:169.254.0.8:443-cmd:")
    assert forwards[1].endswith("relay /tmp/kube-api.sock")
    assert not any("guestfwd" in arg for arg in _arguments(openstack_vm(None, None)))


def test_a_viommu_comes_before_the_devices_and_the_kernel_turns_it_on() -> None:
    with_viommu = _arguments(baremetal_host(viommu=True))
    assert with_viommu.index("intel-iommu") < with_viommu.index(
        next(a for a in with_viommu if a.startswith("igb,"))
    )
    assert "intel_iommu=on" in kernel_command_line(baremetal_host(viommu=True))
    assert "no_timer_check" in kernel_command_line(baremetal_host(viommu=True))  # no timer panic when slow
    assert "intel-iommu" not in _arguments(baremetal_host(viommu=False))
    assert "intel_iommu=on" not in kernel_command_line(baremetal_host(viommu=False))


def test_only_a_bare_metal_worker_survives_a_guest_reboot_and_it_reaches_the_api_server() -> None:
    api = GuestForward("169.254.0.8", 443, Path("/tmp/kube-api.sock"))
    worker = _arguments(baremetal_worker("bm-0", (api,)))
    assert "-no-reboot" not in worker  # a reboot resets the machine; the disk overlay stays with QEMU
    assert "-no-reboot" in _arguments(baremetal_host(viommu=False))
    assert "-no-reboot" in _arguments(openstack_vm(None, None))
    netdev = next(worker[i + 1] for i, arg in enumerate(worker) if arg == "-netdev")
    assert "restrict=on" in netdev and netdev.endswith("relay /tmp/kube-api.sock")
    assert any(a.startswith("igb,") for a in worker)
    assert "sriov.mgmt=52:54:00:12:34:57" in kernel_command_line(baremetal_worker("bm-0", (api,)))


def test_qemu_runs_in_a_network_namespace_of_its_own() -> None:
    argv = isolated(["qemu-system-x86_64"])
    assert argv[:3] == ["unshare", "--net", "--"]
    assert argv[-1] == "qemu-system-x86_64"


def test_the_bundle_lives_in_the_cache_under_the_recipe_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRIOV_OPERATOR_CACHE", "/elsewhere")
    recipe = default_recipe()
    assert bundle_dir(recipe) == Path("/elsewhere/vm") / recipe.digest()
    changed = type(recipe)(**{**recipe.__dict__, "root_packages": (*recipe.root_packages, "ethtool")})
    assert changed.digest() != recipe.digest()


def test_relay_carries_a_request_from_a_nonblocking_socket_to_a_loopback_server(tmp_path: Path) -> None:
    """What QEMU does for each guest connection: one socket as the relay's stdin and stdout."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"meta"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bridge = UnixToLoopbackBridge(tmp_path / "relay.sock", int(server.server_address[1]))
    guest, qemu_end = socket.socketpair()
    qemu_end.setblocking(False)
    relay = subprocess.Popen(
        [sys.executable, "-m", "sriov_vmtest.relay", str(bridge.path)],
        stdin=qemu_end.fileno(),
        stdout=qemu_end.fileno(),
    )
    qemu_end.close()
    try:
        guest.sendall(b"GET /openstack HTTP/1.0\r\n\r\n")
        guest.settimeout(20)
        reply = b""
        while chunk := guest.recv(65536):
            reply += chunk
        assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"meta")
        guest.close()  # the guest is done: the relay ends too
        assert relay.wait(timeout=20) == 0
    finally:
        guest.close()
        relay.kill()
        bridge.close()
        server.shutdown()
        server.server_close()


def test_a_bridge_to_a_port_nobody_listens_on_closes_the_connection_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    bridge = UnixToLoopbackBridge(tmp_path / "relay.sock", port)
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(bridge.path))
            client.settimeout(20)
            assert client.recv(1) == b""  # closed, not left hanging
    finally:
        bridge.close()
    assert f"relay relay.sock: 127.0.0.1:{port}: [Errno 111] Connection refused" in caplog.text


def test_the_documented_command_line_parses() -> None:
    """docs/vm.md's examples: ``build``, ``where`` and ``run`` with its options and a command after ``--``."""
    parser = build_parser()
    assert parser.parse_args(["build"]).command == "build"
    assert parser.parse_args(["where"]).command == "where"
    args = parser.parse_args(
        ["run", "--machine", "baremetal", "--viommu", "--accel", "tcg", "--timeout", "60", "--", "ls", "-l"]
    )
    assert (args.machine, args.viommu, args.accel, args.timeout) == ("baremetal", True, "tcg", 60.0)
    assert args.argv == ["--", "ls", "-l"]
    documented = [shlex.split(command, comments=True) for command in example("vmtest-commands").commands()]
    programs = [words[:3] for words in documented]
    assert programs[:4] == [["python", "-m", "sriov_vmtest"]] * 4
    assert [parser.parse_args(words[3:]).command for words in documented[:4]] == [
        "build",
        "where",
        "run",
        "run",
    ]
    assert documented[4] == ["pytest", "-m", "vm"]
    assert '"vm: ' in (REPO_ROOT / "pyproject.toml").read_text()


def test_a_vm_workers_kubeconfig_reaches_the_forwarded_address_and_checks_the_hosts_name(
    tmp_path: Path,
) -> None:
    pki = create_pki(tmp_path / "pki")
    access = ApiServerAccess.with_token("https://127.0.0.1:36443", pki.ca.cert.read_bytes(), "t0ken")
    (tmp_path / "ca.crt").write_bytes(access.ca_pem)  # the worker writes it beside the kubeconfig
    (tmp_path / "kubeconfig").write_text(guest_kubeconfig(access))
    read = access_from_kubeconfig(tmp_path / "kubeconfig")  # what the daemon in the guest reads
    assert read.server == f"https://{KUBE_API_ADDRESS}:{KUBE_API_PORT}"
    assert read.tls_server_name == "127.0.0.1"
    assert read.token == "t0ken"
    assert access.port == 36443


def test_a_vm_worker_takes_the_server_and_inline_credentials_of_a_kubeconfig(tmp_path: Path) -> None:
    pki = create_pki(tmp_path / "pki")
    write_kubeconfig(tmp_path / "admin", "https://127.0.0.1:36443", pki)  # client certificate, inline
    access = ApiServerAccess.from_kubeconfig(tmp_path / "admin")
    assert (access.url, access.ca_pem) == ("https://127.0.0.1:36443", pki.ca.cert.read_bytes())
    assert set(access.user) == {"client-certificate-data", "client-key-data"}
    (tmp_path / "ca.crt").write_bytes(access.ca_pem)
    (tmp_path / "kubeconfig").write_text(guest_kubeconfig(access))
    assert access_from_kubeconfig(tmp_path / "kubeconfig").tls_server_name == "127.0.0.1"  # loads the cert
    config = yaml.safe_load((tmp_path / "admin").read_text())
    config["users"][0]["user"] = {"client-certificate": "admin.crt", "client-key": "admin.key"}
    (tmp_path / "files").write_text(yaml.safe_dump(config))
    with pytest.raises(BadInputError, match=r"users\[admin\]: a VM worker needs one of token, "):
        ApiServerAccess.from_kubeconfig(tmp_path / "files")
    with pytest.raises(BadInputError, match="a VM worker needs the current context's server"):
        ApiServerAccess.from_kubeconfig(tmp_path / "absent")


@pytest.mark.parametrize(
    "url", ["https://10.1.2.3:6443", "http://127.0.0.1:8080", "https://127.0.0.1", "https://api.example:6443"]
)
def test_a_vm_worker_refuses_an_api_server_off_the_loopback(url: str) -> None:
    with pytest.raises(BadInputError, match=re.escape(f"API server URL {url!r}: a VM worker reaches only")):
        _ = ApiServerAccess.with_token(url, b"", "t").port


def test_a_vm_workers_node_is_an_openstack_worker_with_its_own_instance() -> None:
    node = node_manifest("vm-0")
    assert platform_from_provider_id(node["spec"]["providerID"]) == "openstack"
    assert node["spec"]["providerID"] == f"openstack:///{instance_uuid('vm-0')}"
    assert instance_uuid("vm-0") != instance_uuid("vm-1")
    assert node["metadata"]["labels"]["node-role.kubernetes.io/worker"] == ""
    assert node["metadata"]["labels"]["feature.node.kubernetes.io/network-sriov.capable"] == "true"


def test_a_bare_metal_workers_node_has_no_provider_id() -> None:
    node = node_manifest("bm-0", {"kubernetes.io/hostname": "bm-0"}, platform="baremetal")
    assert "providerID" not in node["spec"]
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "bm-0"


def test_a_vm_workers_daemon_runs_on_the_guests_real_root() -> None:
    argv = daemon_argv("vm-0", "ns", 30)
    assert argv[:2] == ["sriov-operator", "daemon"]
    assert argv[argv.index("--host-root") + 1] == "/"
    assert "--simulate" not in argv
