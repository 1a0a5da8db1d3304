# SPDX-License-Identifier: LGPL-2.1-or-later
"""A libvirtd that stalls: a UNIX socket that speaks just enough of libvirt's RPC protocol
(docs/kbase/internals/rpc.rst: a length, a header of program, version, procedure, type, serial
and status, an XDR body) for the real client library to connect, and never answers the
procedures it is told to hold. A real libvirtd cannot be made to hang on cue, nor be run on the
integration tier; the client side, iommud's, is the real one."""

import socket
import struct
import threading
import time

PROGRAM = 0x20008086
CALL, REPLY, MESSAGE = 0, 1, 2
PROC_CONNECT_OPEN = 1
PROC_DOMAIN_LOOKUP_BY_NAME = 23
PROC_DOMAIN_EVENT_LIFECYCLE = 107      # without VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK
PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY = 167
PROC_CONNECT_LIST_ALL_DOMAINS = 273
VIR_DOMAIN_EVENT_STARTED = 2


def _xdr_string(s):
    b = s.encode()
    return struct.pack('>I', len(b)) + b + b'\0' * (-len(b) % 4)


class StalledLibvirtd:
    """Listens on @path. Every call is answered with zeros (no auth, no feature, empty lists),
    those in @slow @delay seconds after they came, except the procedures in @hold, which are never
    answered while the connection lasts. Once a client registers for lifecycle events, @started
    (a domain name) is announced as started."""

    def __init__(self, path, hold=(), started=None, slow=(), delay=0.0):
        self.path = path
        self.hold = set(hold)
        self.started = started
        self.slow = set(slow)
        self.delay = delay
        self.calls = []         # every procedure called, in order
        self.held = []          # (procedure, connection) of each call left unanswered
        self.connections = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv(conn, n):
        data = b''
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    @staticmethod
    def _send(conn, proc, kind, serial, body):
        msg = struct.pack('>6I', PROGRAM, 1, proc, kind, serial, 0) + body
        conn.sendall(struct.pack('>I', len(msg) + 4) + msg)

    def _serve(self, conn):
        try:
            while True:
                (length,) = struct.unpack('>I', self._recv(conn, 4))
                prog, _, proc, _, serial, _ = struct.unpack('>6I', self._recv(conn, length - 4)[:24])
                if prog != PROGRAM:
                    continue
                self.calls.append(proc)
                if proc in self.hold:
                    with self.lock:
                        self.held.append((proc, conn))
                    continue
                if proc in self.slow:
                    time.sleep(self.delay)
                self._send(conn, proc, REPLY, serial, b'\0' * 8)
                if proc == PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY and self.started:
                    self._send(conn, PROC_DOMAIN_EVENT_LIFECYCLE, MESSAGE, 0,
                               _xdr_string(self.started) + b'\x11' * 16 +
                               struct.pack('>iii', 1, VIR_DOMAIN_EVENT_STARTED, 0))
        except (EOFError, OSError):
            pass

    def holding(self, proc):
        with self.lock:
            return any(p == proc for p, _ in self.held)

    def release(self):
        """Hangs up on every client: the calls held fail at once, as when libvirtd dies."""
        self.hold.clear()
        with self.lock:
            for conn in self.connections:
                conn.shutdown(socket.SHUT_RDWR)
            self.connections.clear()
            self.held.clear()

    def close(self):
        self.release()
        self.sock.close()
