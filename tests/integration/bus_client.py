# SPDX-License-Identifier: LGPL-2.1-or-later
"""D-Bus peers of the tests, through GLib's Gio: one that stays on the bus as long as a test
needs it (spaces belong to the connection that created them), one that records every signal
iommud sends."""

import gi

gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib  # noqa: E402

BUS_NAME = 'org.iommud1'
MANAGER = '/org/iommud1'
SPACE = 'org.iommud1.Space'


class Client:
    """A bus peer of its own (spaces belong to the connection that created them)."""

    def __init__(self, address):
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.signals = []  # every (iova, size) announced by Unmapped
        self.batches = 0  # the Unmapped signals that carried them

    def call(self, path, interface, method, signature=None, args=None, reply=None):
        params = GLib.Variant(signature, args) if signature else None
        result = self.conn.call_sync(BUS_NAME, path, interface, method, params,
                                     GLib.VariantType(reply) if reply else None,
                                     Gio.DBusCallFlags.NONE, 120000, None)
        return result.unpack() if result else None

    def error_of(self, *args, **kwargs):
        """The D-Bus error name and message a call fails with (it must fail)."""
        try:
            self.call(*args, **kwargs)
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e)
            Gio.DBusError.strip_remote_error(e)
            return name, e.message
        raise AssertionError(f'{args[2]} succeeded')

    def create(self, guest='vm1', memory_fd=None, **options):
        """CreateSpace; @memory_fd (a memfd) goes along as the 'memory' option."""
        types = {'reserved': 'a(tt)', 'group': 'u'}
        opts = {k: GLib.Variant(types.get(k, 't'), v) for k, v in options.items()}
        if memory_fd is None:
            return self.call(MANAGER, 'org.iommud1.Manager', 'CreateSpace', '(sa{sv})',
                             (guest, opts), '(o)')[0]
        fds = Gio.UnixFDList.new()
        opts['memory'] = GLib.Variant('h', fds.append(memory_fd))
        result, _ = self.conn.call_with_unix_fd_list_sync(
            BUS_NAME, MANAGER, 'org.iommud1.Manager', 'CreateSpace',
            GLib.Variant('(sa{sv})', (guest, opts)), GLib.VariantType('(o)'),
            Gio.DBusCallFlags.NONE, 120000, fds, None)
        return result.unpack()[0]

    def prop(self, path, name):
        return self.call(path, 'org.freedesktop.DBus.Properties', 'Get', '(ss)', (SPACE, name),
                         '(v)')[0]

    def listen_unmapped(self, path):
        def on_signal(conn, sender, obj, iface, member, params):
            self.signals.extend(tuple(r) for r in params.unpack()[0])
            self.batches += 1
        self.conn.signal_subscribe(BUS_NAME, SPACE, 'Unmapped', path, None,
                                   Gio.DBusSignalFlags.NONE, on_signal)

    def pump(self):
        """Delivers what arrived (signals are dispatched from the main context)."""
        context = GLib.MainContext.default()
        while context.pending():
            context.iteration(False)

    def close(self):
        if not self.conn.is_closed():
            self.conn.close_sync(None)


class Signals:
    """Every signal iommud sends, from a bus peer of its own, as (path, interface, member,
    arguments)."""

    def __init__(self, address):
        self.client = Client(address)
        self.seen = []
        self.client.conn.signal_subscribe(
            BUS_NAME, None, None, None, None, Gio.DBusSignalFlags.NONE,
            lambda conn, sender, path, iface, member, params: self.seen.append(
                (path, iface, member, params.unpack())))
        # GDBus sends the match without waiting; the bus answers calls in order, so once it
        # answered this one the match is in force.
        self.client.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                   'org.freedesktop.DBus', 'GetId', None, None,
                                   Gio.DBusCallFlags.NONE, -1, None)

    def wait(self, member, path=None, where=lambda args: True):
        """The arguments of the first @member signal (about object @path) seen for which
        @where holds; waits for it."""
        # Imported here: the vm tier's guest uses Client with its own package named harness.
        from harness import wait_for  # pylint: disable=import-outside-toplevel

        def find():
            self.client.pump()
            return next(([args] for p, _, m, args in self.seen
                         if m == member and (path is None or path in (p, args[0]))
                         and where(args)), None)
        return wait_for(find, f'{member} of {path}')[0]

    def sync(self):
        """Delivers every signal iommud sent before now: its answer to a call comes after them
        (the bus keeps one sender's messages in order)."""
        self.client.conn.call_sync(BUS_NAME, MANAGER, 'org.freedesktop.DBus.Peer', 'Ping', None,
                                   None, Gio.DBusCallFlags.NONE, -1, None)
        self.client.pump()

    def close(self):
        self.client.close()
