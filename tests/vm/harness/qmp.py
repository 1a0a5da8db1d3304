# SPDX-License-Identifier: LGPL-2.1-or-later
# A QMP client, and the relay that lets the guest's scenario call QMP over its second serial port.
import json
import socket
import threading
import time

from .errors import HarnessError


class QMP:
        """One QMP connection: commands in order, events kept until someone waits for them."""

        def __init__(self, sock):
                self.sock = sock
                self.file = sock.makefile("rwb")
                self.lock = threading.Lock()
                self.cond = threading.Condition()
                self.events = []
                self.replies = []
                self.closed = False
                greeting = self._read()
                if greeting is None or "QMP" not in greeting:
                        raise HarnessError(f"QEMU sent no QMP greeting ({greeting!r})")
                threading.Thread(target=self._reader, daemon=True).start()
                self.command("qmp_capabilities")

        def _read(self):
                line = self.file.readline()
                return json.loads(line) if line else None

        def _reader(self):
                while True:
                        try:
                                msg = self._read()
                        except (OSError, ValueError):
                                msg = None
                        with self.cond:
                                if msg is None:
                                        self.closed = True
                                elif "event" in msg:
                                        self.events.append(msg)
                                else:
                                        self.replies.append(msg)
                                self.cond.notify_all()
                        if msg is None:
                                return

        def command(self, execute, arguments=None, timeout=60):
                """The reply of one command: {"return": ...} or {"error": ...}."""
                msg = {"execute": execute}
                if arguments:
                        msg["arguments"] = arguments
                with self.lock:
                        self.file.write(json.dumps(msg).encode() + b"\n")
                        self.file.flush()
                        with self.cond:
                                if not self.cond.wait_for(lambda: self.replies or self.closed,
                                                          timeout):
                                        return {"error": {"desc": f"no reply to '{execute}' "
                                                                  f"within {timeout} s"}}
                                if not self.replies:
                                        return {"error": {"desc": "QEMU closed QMP"}}
                                return self.replies.pop(0)

        def wait_event(self, name, match, timeout):
                """The first unclaimed event NAME whose data holds MATCH; None at the deadline."""
                def find():
                        for i, ev in enumerate(self.events):
                                data = ev.get("data", {})
                                if ev["event"] == name and all(data.get(k) == v
                                                               for k, v in match.items()):
                                        return self.events.pop(i)
                        return None

                deadline = time.monotonic() + timeout
                with self.cond:
                        while True:
                                ev = find()
                                left = deadline - time.monotonic()
                                if ev is not None or self.closed or left <= 0:
                                        return ev
                                self.cond.wait(left)


def relay(conn, qmp):
        """Serves the guest's requests, one JSON object a line, until the guest goes away.

        {"qmp": COMMAND, "arguments": {...}}          -> the QMP reply
        {"wait_event": NAME, "match": {...}, "timeout": S} -> {"event": {...}} or {"error": ...}
        """
        f = conn.makefile("rwb")
        for line in f:
                line = line.strip()
                if not line:
                        continue
                try:
                        req = json.loads(line)
                        if "qmp" in req:
                                reply = qmp.command(req["qmp"], req.get("arguments"))
                        elif "wait_event" in req:
                                ev = qmp.wait_event(req["wait_event"], req.get("match", {}),
                                                    float(req.get("timeout", 30)))
                                reply = {"event": ev} if ev else {
                                        "error": {"desc": f"no {req['wait_event']} event within "
                                                          f"{req.get('timeout', 30)} s"}}
                        else:
                                reply = {"error": {"desc": f"unknown request {line[:80]!r}"}}
                except (ValueError, KeyError, TypeError) as e:
                        reply = {"error": {"desc": f"bad request {line[:80]!r}: {e}"}}
                try:
                        f.write(json.dumps(reply).encode() + b"\n")
                        f.flush()
                except OSError:
                        return


def listen(path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(1)
        return sock
