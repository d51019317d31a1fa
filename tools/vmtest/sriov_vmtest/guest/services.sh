#!/bin/sh
# Start udevd and NetworkManager in a test guest, on demand (a guest boots without them: init.sh is PID 1,
# there is no systemd).  Usage: services.sh udev [nm] [ovs].  NetworkManager runs with its Debian configuration
# plus: no polkit (not in the image; root asks), no automatic DHCP profiles, and the management port
# (sriov.mgmt= on the command line) left alone, so NetworkManager never takes the harness's address away.
# Open vSwitch: the kernel's openvswitch module, ovsdb-server on a new database at Debian's paths (its socket
# /var/run/openvswitch/db.sock, where the operator looks) and ovs-vswitchd, as Debian's ovs-ctl starts them
# (ovs-ctl itself wants systemd's or sysvinit's helpers); it returns once ovs-vswitchd has applied the
# database, and fails with the daemons' log tail if either does not come up.
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
    ovs)
      modprobe openvswitch
      mkdir -p /etc/openvswitch /var/run/openvswitch /var/log/openvswitch
      db=/etc/openvswitch/conf.db
      [ -e "$db" ] || ovsdb-tool create "$db" /usr/share/openvswitch/vswitch.ovsschema
      ovsdb-server "$db" --remote=punix:/var/run/openvswitch/db.sock --pidfile --detach \
        --log-file=/var/log/openvswitch/ovsdb-server.log \
        || { tail -n 20 /var/log/openvswitch/ovsdb-server.log >&2; exit 1; }
      ovs-vsctl --no-wait init
      # Debian's /usr/sbin/ovs-vswitchd is an alternative its maintainer scripts make (they did not run)
      /usr/lib/openvswitch-switch/ovs-vswitchd --pidfile --detach --log-file=/var/log/openvswitch/ovs-vswitchd.log \
        || { tail -n 20 /var/log/openvswitch/ovs-vswitchd.log >&2; exit 1; }
      # without --no-wait, ovs-vsctl returns only once ovs-vswitchd has applied this change
      ovs-vsctl --timeout=120 set Open_vSwitch . external_ids:hostname="$(hostname)" \
        || { tail -n 20 /var/log/openvswitch/ovs-vswitchd.log >&2; exit 1; }
      ;;
    *) echo "services.sh: unknown service $service (udev, nm, ovs)" >&2; exit 2 ;;
  esac
done
