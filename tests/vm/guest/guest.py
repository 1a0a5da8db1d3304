#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The guest driver: runs inside the vm's chroot (or as a service of systemd, which started the bus
# and udev), starts the bus and udev, sets up the topology's network and disks, runs one job (a
# scenario or the demo) and writes its verdict.
"""The API a job sees is the Guest object passed to its run(vm) function."""

import importlib.util
import json
import os
import select
import socket
import subprocess
import sys
import termios
import time
import traceback
import tty

# tests/vm, for what the guest shares with the host's harness.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness.proc import stop as stop_process  # noqa: E402

RESULTS = "/run/vm"
JOURNAL = "/run/iommud/state.json"
CTL_TTY = "/dev/ttyS1"
OUTPUT_TAIL = 40


class Failure(Exception):
        """A check failed; the message is what the harness reports."""


def _tail(text, lines=OUTPUT_TAIL):
        text = (text or "").rstrip()
        parts = text.splitlines()
        if len(parts) > lines:
                parts = [f"[... {len(parts) - lines} lines before ...]"] + parts[-lines:]
        return "\n".join(parts)


def uptime():
        with open("/proc/uptime") as f:
                return float(f.read().split()[0])


class Guest:
        def __init__(self, config):
                self.config = config
                # "systemd": PID 1 runs the bus, udev and iommud.service (guest/init).
                self.systemd = config["init"] == "systemd"
                self.build_dir = config["build_dir"]
                self.source_dir = config["source_dir"]
                self.processes = {}
                self._ctl = None
                self._pci = None
                # Under systemd, the installed iommuctl (guest/init copied the installed tree).
                built = [] if self.systemd else [os.path.join(self.build_dir, "cli"),
                                                 os.path.join(self.build_dir, "daemon")]
                os.environ["PATH"] = ":".join(built + ["/usr/local/sbin", "/usr/local/bin",
                                                       "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
                if not self.systemd:
                        # udevadm trigger and settle do nothing in a chroot unless told otherwise.
                        os.environ["SYSTEMD_IGNORE_CHROOT"] = "1"

        # Output ---------------------------------------------------------------------------

        def log(self, message):
                print(f"vm: {message}", flush=True)

        def say(self, text=""):
                """Narration: printed as is (the demo's voice)."""
                print(text, flush=True)

        # Commands -------------------------------------------------------------------------

        def run(self, argv, *, timeout=60, check=True, quiet=False, input=None):
                """Runs ARGV (a list, or a string for sh -c); returns the CompletedProcess.

                A command that fails (check) or overruns TIMEOUT raises Failure with its output.
                """
                shell = isinstance(argv, str)
                shown = argv if shell else " ".join(argv)
                if not quiet:
                        self.log(f"$ {shown}")
                try:
                        proc = subprocess.run(argv, shell=shell, capture_output=True, text=True,
                                              timeout=timeout, input=input,
                                              stdin=None if input is not None
                                              else subprocess.DEVNULL)
                except subprocess.TimeoutExpired as e:
                        out = (e.stdout or b"").decode(errors="replace") if isinstance(
                                e.stdout, bytes) else (e.stdout or "")
                        err = (e.stderr or b"").decode(errors="replace") if isinstance(
                                e.stderr, bytes) else (e.stderr or "")
                        raise Failure(f"'{shown}' did not finish within {timeout} s; "
                                      f"its output so far:\n{_tail(out + err)}")
                except FileNotFoundError as e:
                        raise Failure(f"'{shown}': {e.strerror}: {e.filename}")
                if check and proc.returncode != 0:
                        raise Failure(f"'{shown}' failed with exit status {proc.returncode}:\n"
                                      f"{_tail(proc.stderr + proc.stdout)}")
                return proc

        def sh(self, argv, **kw):
                """The stdout of a command (see run())."""
                return self.run(argv, **kw).stdout

        def show(self, argv, **kw):
                """Runs ARGV and prints it with its output, as a user at a prompt would see it."""
                self.say("  # " + (argv if isinstance(argv, str) else " ".join(argv)))
                out = self.sh(argv, quiet=True, **kw).rstrip("\n")
                self.say("\n".join("  " + line for line in out.splitlines()))
                return out

        def iommuctl(self, *args, **kw):
                return self.sh(["iommuctl", *args], **kw)

        def iommuctl_json(self, *args, **kw):
                out = self.iommuctl("--json", *args, **kw)
                try:
                        return json.loads(out)
                except ValueError as e:
                        raise Failure(f"'iommuctl --json {' '.join(args)}' printed invalid JSON "
                                      f"({e}):\n{_tail(out)}")

        def wait_for(self, what, predicate, timeout=30):
                """Re-evaluates PREDICATE (backing off from 50 ms to 1 s) until it returns a true
                value, which is returned; Failure naming WHAT at the deadline."""
                deadline = time.monotonic() + timeout
                delay = 0.05
                while True:
                        value = predicate()
                        if value:
                                return value
                        if time.monotonic() > deadline:
                                raise Failure(f"timed out after {timeout} s waiting for {what}")
                        time.sleep(delay)
                        delay = min(1.0, delay * 2)

        def check(self, condition, message):
                if not condition:
                        raise Failure(message)

        # Services -------------------------------------------------------------------------

        def start_service(self, name, argv, timeout=120, env=None):
                """Starts ARGV with NOTIFY_SOCKET and waits for its READY=1."""
                path = f"/run/vm-notify-{name}"
                if os.path.exists(path):  # a service started again (a restart after a crash)
                        os.unlink(path)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sock.bind(path)
                logpath = os.path.join(RESULTS, f"{name}.log")
                logf = open(logpath, "w")
                start = time.monotonic()
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                        stderr=subprocess.STDOUT,
                                        env=dict(os.environ, **(env or {}),
                                                 NOTIFY_SOCKET=path))
                self.processes[name] = (proc, logpath)
                try:
                        while True:
                                left = start + timeout - time.monotonic()
                                if left <= 0:
                                        raise Failure(f"{name} did not send READY=1 within "
                                                      f"{timeout} s; its log:\n"
                                                      f"{self.service_log(name)}")
                                r, _, _ = select.select([sock], [], [], min(left, 0.5))
                                if r and b"READY=1" in sock.recv(4096).split(b"\n"):
                                        break
                                if proc.poll() is not None:
                                        raise Failure(f"{name} exited with status "
                                                      f"{proc.returncode} before it was ready; "
                                                      f"its log:\n{self.service_log(name)}")
                finally:
                        sock.close()
                self.log(f"{name} ready in {time.monotonic() - start:.1f} s")
                return proc

        def service_log(self, name):
                if self.systemd:
                        return _tail(self.sh(["journalctl", "--no-pager", "-o", "short-monotonic",
                                              "-u", f"{name}.service"], quiet=True, check=False))
                try:
                        with open(self.processes[name][1]) as f:
                                return _tail(f.read())
                except (OSError, KeyError):
                        return "(no log)"

        def start_daemon(self, *args, env=None):
                """Starts the freshly built iommud (its journal in /run: the root is read-only)
                and checks that it owns org.iommud1."""
                policy = os.path.join(self.source_dir, "tests", "policy", "allow-all")
                self.start_service("iommud", [os.path.join(self.build_dir, "daemon", "iommud"),
                                              f"--journal={JOURNAL}", f"--policy-dir={policy}",
                                              *args],
                                   timeout=60, env=env)
                owner = self.sh(["busctl", "--system", "call", "org.freedesktop.DBus",
                                 "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                 "s", "org.iommud1"], quiet=True).strip()
                self.log(f"org.iommud1 is owned by {owner.split()[-1]}")

        # The host side: QMP over the second serial port --------------------------------------

        def _request(self, req, timeout):
                if self._ctl is None:
                        fd = os.open(CTL_TTY, os.O_RDWR | os.O_NOCTTY)
                        tty.setraw(fd)
                        termios.tcflush(fd, termios.TCIOFLUSH)
                        self._ctl = fd
                os.write(self._ctl, json.dumps(req).encode() + b"\n")
                buf = b""
                deadline = time.monotonic() + timeout
                while not buf.endswith(b"\n"):
                        left = deadline - time.monotonic()
                        r, _, _ = select.select([self._ctl], [], [], max(0, left))
                        if not r:
                                raise Failure(f"the host did not answer {req} within {timeout} s")
                        buf += os.read(self._ctl, 65536)
                return json.loads(buf)

        def qmp(self, command, **arguments):
                """Runs a QMP command on the host; its "return", or Failure with QEMU's error."""
                self.log(f"qmp {command} {json.dumps(arguments)}")
                reply = self._request({"qmp": command, "arguments": arguments}, 90)
                if "error" in reply:
                        raise Failure(f"QMP {command} {arguments} failed: {reply['error']}")
                self._pci = None
                return reply.get("return")

        def wait_event(self, event, timeout=30, **match):
                """Waits for a QMP event (e.g. DEVICE_DELETED, device="nic9") seen by the host."""
                reply = self._request({"wait_event": event, "match": match, "timeout": timeout},
                                      timeout + 30)
                if "error" in reply:
                        raise Failure(reply["error"]["desc"])
                return reply["event"]

        def address_of(self, qdev_id):
                """The PCI address the guest kernel gave to the topology's device QDEV_ID."""
                if self._pci is None:
                        found = {}

                        def walk(devices):
                                for d in devices:
                                        if d.get("qdev_id"):
                                                found[d["qdev_id"]] = (
                                                        f"0000:{d['bus']:02x}:{d['slot']:02x}."
                                                        f"{d['function']:x}")
                                        walk(d.get("pci_bridge", {}).get("devices", []))

                        for bus in self.qmp("query-pci"):
                                walk(bus["devices"])
                        self._pci = found
                if qdev_id not in self._pci:
                        raise Failure(f"QEMU has no PCI device with id '{qdev_id}' "
                                      f"(known: {sorted(self._pci)})")
                return self._pci[qdev_id]

        # Setup ----------------------------------------------------------------------------

        def setup(self):
                socket.sethostname("iommud-vm")
                # Under systemd, dbus.socket starts the bus on first use and
                # systemd-udev-trigger.service has triggered (vm-job.service comes after it).
                if not self.systemd:
                        os.makedirs("/run/dbus", exist_ok=True)
                        self.start_service("dbus", ["dbus-daemon", "--nofork", "--nopidfile",
                                                    "--config-file=" + os.path.join(
                                                            self.source_dir, "tests", "vm",
                                                            "guest", "system-bus.conf")])
                        self.start_service("udevd", ["/lib/systemd/systemd-udevd"])
                start = time.monotonic()
                for kind in () if self.systemd else ("subsystems", "devices"):
                        self.run(["udevadm", "trigger", "--action=add", f"--type={kind}"],
                                 quiet=True)
                self.run(["udevadm", "settle", "--timeout=240"], timeout=250, quiet=True)
                self.log(f"udev trigger and settle took {time.monotonic() - start:.1f} s")
                topo = self.config["topology"]
                self.run(["ip", "link", "set", "dev", "lo", "up"], quiet=True)
                for net in topo["networks"]:
                        self._setup_network(net)
                for mount in topo["mounts"]:
                        os.makedirs(mount["mount"], exist_ok=True)
                        self.run(["mount", "-L", mount["label"], mount["mount"]], quiet=True)
                        self.log(f"mounted '{mount['label']}' ({mount['id']}) on "
                                 f"{mount['mount']}")

        def _setup_network(self, net):
                def find():
                        for name in os.listdir("/sys/class/net"):
                                with open(f"/sys/class/net/{name}/address") as f:
                                        if f.read().strip() == net["mac"].lower():
                                                return name
                        return None

                ifname = self.wait_for(f"a network interface with MAC {net['mac']} "
                                       f"({net['id']})", find, 30)
                self.run(["ip", "link", "set", "dev", ifname, "up"], quiet=True)

                def carrier():
                        with open(f"/sys/class/net/{ifname}/carrier") as f:
                                return f.read().strip() == "1"

                self.wait_for(f"the link of {ifname} ({net['id']})", carrier, 30)
                self.run(["ip", "address", "add", net["address"], "dev", ifname], quiet=True)
                if "gateway" in net:
                        self.run(["ip", "route", "add", "default", "via", net["gateway"],
                                  "dev", ifname], quiet=True)
                self.log(f"{ifname} ({net['id']}) has {net['address']}")

        def shell(self):
                self.say("\nThe guest's shell: iommuctl and iommud are on PATH; "
                         "'exit' powers the guest off.")
                subprocess.run(["setsid", "-c", "-w", "bash", "-i"],
                               stdin=open("/dev/ttyS0"), stdout=open("/dev/ttyS0", "w"),
                               stderr=subprocess.STDOUT,
                               env=dict(os.environ, TERM="linux"))

        def stop(self):
                for proc, _ in reversed(list(self.processes.values())):
                        stop_process(proc)


def load_job(path):
        spec = importlib.util.spec_from_file_location("job", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def write_verdict(status, message):
        with open(os.path.join(RESULTS, "verdict.json"), "w") as f:
                json.dump({"status": status, "message": message}, f, indent=2)
                f.flush()
                os.fsync(f.fileno())


def main():
        sys.dont_write_bytecode = True
        with open(sys.argv[1]) as f:
                config = json.load(f)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        vm = Guest(config)
        try:
                vm.setup()
                vm.log(f"ready after {uptime():.1f} s of guest time")
                job = load_job(config["job"])
                job.run(vm)
                status, message = "pass", ""
        except Failure as e:
                status, message = "fail", str(e)
        except Exception:
                status, message = "fail", "the job raised:\n" + traceback.format_exc()
        if status == "pass":
                vm.log("PASS")
        else:
                vm.log(f"FAIL: {message}")
        if status != "pass" and (vm.systemd or "iommud" in vm.processes):
                message += "\n--- iommud's log ---\n" + vm.service_log("iommud")
        write_verdict(status, message)
        if config.get("shell"):
                vm.shell()
        vm.stop()


if __name__ == "__main__":
        main()
