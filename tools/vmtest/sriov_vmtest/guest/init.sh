#!/bin/sh
# PID 1 of a test guest, started by the initramfs from the toolkit's 9p share (so it changes without a
# rebuild): tmpfs mounts, device drivers (there is no udev), the management port, then the agent.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "guest init: $* (uptime $(cut -d' ' -f1 /proc/uptime) s)" >/dev/console; }
say "started"
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
hostname sriov-test-vm
# Without udev nothing loads drivers for devices: load the ones test machines have. igbvf must be
# there before VFs appear, or nothing binds them.
modprobe -a virtio_net virtio_console igb igbvf ahci sr_mod
say "drivers loaded"
ip link set lo up
mgmt_mac=
for arg in $(cat /proc/cmdline); do
  case "$arg" in sriov.mgmt=*) mgmt_mac="${arg#sriov.mgmt=}" ;; esac
done
if [ -n "$mgmt_mac" ]; then
  for dev in /sys/class/net/*; do
    if [ "$(cat "$dev/address")" = "$mgmt_mac" ]; then
      ip link set "${dev##*/}" up
      ip addr add 169.254.0.15/16 dev "${dev##*/}"  # QEMU's user network; the metadata service is on-link
    fi
  done
fi
# Byte code: the dependencies' was compiled into the image; the project's comes from the share (the host
# compiles it before boot, same Python minor version), which is read-only.
export PYTHONPATH=/project/src:/opt/sriov-operator/site-packages PYTHONDONTWRITEBYTECODE=1
# sriov-operator runs in a process forked by the fork server, which imports the project once (the imports
# are most of a command's time under emulation); the client falls back to a plain python3 without it.
python3 /vmtest/forkserver.py </dev/null >/dev/console 2>&1 &
cat >/usr/local/bin/sriov-operator <<'WRAPPER'
#!/bin/sh
exec python3 -I -S /vmtest/forkclient.py "$@"
WRAPPER
chmod +x /usr/local/bin/sriov-operator
say "starting the agent"
exec python3 /vmtest/agent.py
