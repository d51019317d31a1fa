#!/bin/sh
# Start udevd and NetworkManager in a test guest, on demand (a guest boots without them: init.sh is PID 1,
# there is no systemd).  Usage: services.sh udev [nm].  NetworkManager runs with its Debian configuration
# plus: no polkit (not in the image; root asks), no automatic DHCP profiles, and the management port
# (sriov.mgmt= on the command line) left alone, so NetworkManager never takes the harness's address away.
set -e
for service in "$@"; do
  case "$service" in
    udev)
      /lib/systemd/systemd-udevd --daemon
      udevadm trigger --action=add
      udevadm settle --timeout=120
      ;;
    nm)
      mgmt=
      for arg in $(cat /proc/cmdline); do
        case "$arg" in sriov.mgmt=*) mgmt="mac:${arg#sriov.mgmt=}" ;; esac
      done
      mkdir -p /etc/NetworkManager/conf.d /run/dbus /var/lib/NetworkManager
      cat >/etc/NetworkManager/conf.d/90-test-machine.conf <<CONF
[main]
auth-polkit=false
no-auto-default=*
CONF
      if [ -n "$mgmt" ]; then
        printf '[keyfile]\nunmanaged-devices=%s\n' "$mgmt" >>/etc/NetworkManager/conf.d/90-test-machine.conf
      fi
      dbus-uuidgen --ensure
      dbus-daemon --system --fork
      NetworkManager
      nm-online --wait-for-startup --timeout=120 --quiet || true  # up, whether or not anything connects
      ;;
    *) echo "services.sh: unknown service $service (udev, nm)" >&2; exit 2 ;;
  esac
done
