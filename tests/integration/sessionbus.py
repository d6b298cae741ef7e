"""A real, private D-Bus session bus for the notification tests: a
dbus-daemon of its own (its own config, socket and address in a temp dir,
nothing shared with the desktop the tests may run in) and, on it,
python3-dbusmock's notification_daemon template as the
org.freedesktop.Notifications server. The test gives `env` to
Stack.start_daemon() and reads what the daemon asked for: every call to
the mock is recorded, and the org.freedesktop.DBus.Mock interface
(GetCalls) hands them back.

    bus = SessionBus()            # starts dbus-daemon and the mock
    self.addCleanup(bus.close)
    stack.start_daemon(env=bus.env)
    n = bus.wait_notifies(1)      # [Notification(...)]
    bus.closed_ids()              # [id, ...] from CloseNotification

SessionBus(server=False) starts the bus without a notification server."""

import collections
import os
import shutil
import signal
import subprocess
import tempfile
import time

import dbus

from harness import PYTHON, stop_process, wait_until

NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"
MOCK_IFACE = "org.freedesktop.DBus.Mock"

# No <servicedir>: nothing on this bus is started by activation (the
# session.conf of the machine would start a real notification daemon).
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# One Notify call as the server saw it (the spec's arguments, in order).
Notification = collections.namedtuple(
    "Notification", "app_name replaces_id app_icon summary body actions hints expire_timeout")


def _plain(v):
    """dbus-python's types as plain Python values."""
    if isinstance(v, (dbus.String, dbus.ObjectPath, dbus.Signature)):
        return str(v)
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, (dbus.Byte, dbus.Int16, dbus.Int32, dbus.Int64, dbus.UInt16,
                      dbus.UInt32, dbus.UInt64)):
        return int(v)
    if isinstance(v, dbus.Double):
        return float(v)
    if isinstance(v, dbus.Dictionary):
        return {_plain(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (dbus.Array, dbus.Struct, list, tuple)):
        return [_plain(x) for x in v]
    return v


class SessionBus:
    def __init__(self, server=True, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="adfs-credd-bus-")
        self.own_tmp = tmp is None
        self.socket = os.path.join(self.tmp, "bus")
        self.config = os.path.join(self.tmp, "bus.conf")
        with open(self.config, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket))
        self.daemon = None
        self.mock = None
        self.conn = None
        try:
            self._start_bus()
            if server:
                self.start_server()
        except BaseException:
            self.close()
            raise

    def _start_bus(self):
        self.daemon = subprocess.Popen(
            ["dbus-daemon", "--config-file", self.config, "--nofork",
             "--print-address"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.daemon.stdout.readline().strip()
        if not line:
            raise RuntimeError("dbus-daemon did not print its address")
        self.address = line
        self.conn = dbus.bus.BusConnection(self.address)

    @property
    def env(self):
        """What the daemon needs to find this bus (and no other)."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def start_server(self):
        """The notification_daemon template on the bus, owning
        org.freedesktop.Notifications."""
        self.mock_log = open(os.path.join(self.tmp, "dbusmock.log"), "w")
        self.mock = subprocess.Popen(
            [PYTHON, "-m", "dbusmock", "--template", "notification_daemon"],
            stdout=self.mock_log, stderr=subprocess.STDOUT,
            env=dict(os.environ, **self.env))
        if not wait_until(lambda: self.conn.name_has_owner(NOTIFY_NAME), 20):
            raise RuntimeError("dbusmock did not take " + NOTIFY_NAME)

    def stop_server(self):
        if self.mock:
            stop_process(self.mock, 10)
            self.mock = None
            self.mock_log.close()

    def _mock(self):
        return dbus.Interface(self.conn.get_object(NOTIFY_NAME, NOTIFY_PATH), MOCK_IFACE)

    def calls(self, method=None):
        """[(method, args)] the server received, oldest first."""
        out = []
        for _, name, args in self._mock().GetCalls():
            if method is None or str(name) == method:
                out.append((str(name), _plain(args)))
        return out

    def notifies(self):
        return [Notification(*args) for _, args in self.calls("Notify")]

    def closed_ids(self):
        return [args[0] for _, args in self.calls("CloseNotification")]

    def wait_notifies(self, n, timeout=30):
        """Waits until at least n Notify calls came; returns them all (the
        test checks the count it expects, more included)."""
        wait_until(lambda: len(self.notifies()) >= n, timeout, interval=0.1)
        return self.notifies()

    def wait_closed(self, n, timeout=30):
        wait_until(lambda: len(self.closed_ids()) >= n, timeout, interval=0.1)
        return self.closed_ids()

    def clear(self):
        self._mock().ClearCalls()

    def close(self):
        self.stop_server()
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.daemon:
            stop_process(self.daemon, 10)
            self.daemon.stdout.close()
            self.daemon = None
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
