# SPDX-License-Identifier: LGPL-2.1-or-later
# Boots a topology under QEMU (TCG, emulated Intel IOMMU), supervises it with deadlines, and
# turns the guest's verdict into a result.
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from . import qmp as qmplib
from .errors import HarnessError
from .install import install
from .proc import stop

QEMU = "qemu-system-x86_64"
READY_MARKER = "vm: ready after"
# What echo="job" leaves out: the harness's and the kernel's chatter, but never a failure.
CHATTER = re.compile(r"^(vm: |vm-init: |\[ *[0-9]+\.[0-9]+\] )")
TAIL_LINES = 60
# What PID 1 is: guest/init itself (busybox), or systemd with the installed iommud (vm.init=).
INITS = ("busybox", "systemd")
# systemd as PID 1: boot vm.target (guest/systemd/), show only failed units on the console, and
# leave out two services on the way to sysinit.target that have nothing to do with iommud and
# cost 10 s under TCG (the host enables timesyncd; utmp records the boot).
SYSTEMD_ARGS = ["systemd.unit=vm.target", "systemd.show_status=error",
                "systemd.mask=systemd-timesyncd.service",
                "systemd.mask=systemd-update-utmp.service"]


class Result:
        def __init__(self, ok, message, results, ready_s, wall_s):
                self.ok = ok
                self.message = message
                self.results = results
                self.ready_s = ready_s
                self.wall_s = wall_s

        def console_tail(self, lines=TAIL_LINES):
                try:
                        with open(os.path.join(self.results, "console.log"), "rb") as f:
                                text = f.read().decode(errors="replace")
                except OSError:
                        return "(no console log)"
                return "\n".join(text.replace("\r", "").splitlines()[-lines:])


def qemu_binary():
        path = shutil.which(QEMU)
        if path is None:
                raise HarnessError(f"{QEMU} is not installed (run tools/install-deps: "
                                   f"qemu-system-x86)")
        return path


class Machine:
        """One boot of one topology, running one guest job (a scenario or the demo)."""

        def __init__(self, *, kernel, initramfs, topology, source_dir, build_dir, results,
                     init="busybox"):
                assert init in INITS
                self.init = init
                self.kernel = kernel
                self.initramfs = initramfs
                self.topology = topology
                self.source_dir = source_dir
                self.build_dir = build_dir
                self.results = results

        def _argv(self, workdir, qmp_path, ctl_path):
                guest = os.path.join(self.source_dir, "tests", "vm", "guest", "guest.py")
                # no_timer_check: under TCG on a busy host the kernel's boot-time test of the
                # timer interrupt through the interrupt-remapped IO-APIC can miss its window
                # and panic ("timer doesn't work through Interrupt-remapped IO-APIC"); the
                # timer works, the test is what is too impatient for an emulated machine.
                append = ["console=ttyS0", "intel_iommu=on", "panic=-1", "loglevel=4",
                          "no_timer_check", "rdinit=/init", f"vm.guest={guest}",
                          f"vm.init={self.init}"]
                if self.init == "systemd":
                        append += SYSTEMD_ARGS
                argv = [qemu_binary(),
                        "-machine", "q35,kernel-irqchip=split", "-accel", "tcg",
                        "-m", str(self.topology.memory_mb), "-smp", "1",
                        "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
                        "-no-reboot",
                        # The IOMMU comes before every PCI device it translates for.
                        "-device", "intel-iommu,intremap=on,caching-mode=on",
                        # Native PCIe hot-plug (pciehp) on the root ports, not ACPI's.
                        "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
                        "-kernel", self.kernel.vmlinuz, "-initrd", self.initramfs,
                        "-append", " ".join(append),
                        "-chardev", "stdio,id=console,signal=off,logfile="
                        + os.path.join(self.results, "console.log"),
                        "-serial", "chardev:console",
                        "-chardev", f"socket,id=ctl,path={ctl_path}",
                        "-serial", "chardev:ctl",
                        "-chardev", f"socket,id=qmp,path={qmp_path}",
                        "-mon", "chardev=qmp,mode=control"]
                # The topology's devices take their slots before the 9p devices are auto-placed.
                argv += self.topology.qemu_args(workdir)
                argv += ["-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,"
                                    "readonly=on",
                         "-virtfs", f"local,path={self.results},mount_tag=results,"
                                    "security_model=none"]
                return argv

        def run(self, job, *, timeout, ready_timeout, echo=None, interactive=False):
                """Boots, runs JOB (a path the guest imports) and returns a Result.

                echo: None (quiet), "all" (every console line) or "job" (what the job says
                after ready, without the harness's and the kernel's lines).
                interactive: the console is the caller's terminal (--shell); no deadline, the
                user ends the guest.
                """
                shutil.rmtree(self.results, ignore_errors=True)
                os.makedirs(self.results)
                # The job runs from the results directory: the guest sees it wherever it lives.
                shutil.copy(job, os.path.join(self.results, "job.py"))
                if self.init == "systemd":
                        # guest/init copies it onto the guest's root.
                        install(self.build_dir, os.path.join(self.results, "install"))
                config = {"job": "/run/vm/job.py", "source_dir": self.source_dir,
                          "build_dir": self.build_dir, "shell": interactive, "init": self.init,
                          "topology": self.topology.guest_config()}
                with open(os.path.join(self.results, "config.json"), "w") as f:
                        json.dump(config, f, indent=2)

                start = time.monotonic()
                with tempfile.TemporaryDirectory(prefix="iommud-vm-") as workdir:
                        qmp_path = os.path.join(workdir, "qmp.sock")
                        ctl_path = os.path.join(workdir, "ctl.sock")
                        qmp_listener = qmplib.listen(qmp_path)
                        ctl_listener = qmplib.listen(ctl_path)
                        argv = self._argv(workdir, qmp_path, ctl_path)
                        with open(os.path.join(self.results, "qemu.argv"), "w") as f:
                                f.write(" ".join(argv) + "\n")
                        stderr = open(os.path.join(self.results, "qemu.stderr"), "w+")
                        proc = subprocess.Popen(argv, stdin=None if interactive
                                                else subprocess.DEVNULL,
                                                stdout=None if interactive else subprocess.PIPE,
                                                stderr=stderr, start_new_session=not interactive)
                        try:
                                qmp = self._connect(proc, qmp_listener, ctl_listener, stderr)
                                ready_s, failure = self._supervise(proc, start, timeout,
                                                                   ready_timeout, echo,
                                                                   interactive)
                        except HarnessError as e:
                                ready_s, failure = None, str(e)
                        finally:
                                stop(proc)
                                qmp_listener.close()
                                ctl_listener.close()
                        stderr.seek(0)
                        qemu_err = stderr.read().strip()
                        stderr.close()
                wall = time.monotonic() - start
                return self._verdict(proc, failure, qemu_err, ready_s, wall)

        def _connect(self, proc, qmp_listener, ctl_listener, stderr):
                """QEMU connects to both sockets at start-up; a QEMU that dies says why."""
                def accept(listener, what):
                        listener.settimeout(30)
                        try:
                                conn, _ = listener.accept()
                        except socket.timeout:
                                proc.poll()
                                stderr.seek(0)
                                raise HarnessError(f"QEMU did not connect its {what} socket within "
                                                   f"30 s (exit status {proc.returncode}):\n"
                                                   f"{stderr.read().strip()}")
                        conn.settimeout(None)
                        return conn

                qmp = qmplib.QMP(accept(qmp_listener, "QMP"))
                ctl = accept(ctl_listener, "control")
                threading.Thread(target=qmplib.relay, daemon=True,
                                 args=(ctl, qmp)).start()
                return qmp

        def _supervise(self, proc, start, timeout, ready_timeout, echo, interactive):
                """Waits for QEMU to exit; returns (seconds to ready, failure or None)."""
                if interactive:
                        proc.wait()
                        return None, None
                fd = proc.stdout.fileno()
                buf = b""
                ready_s = None
                while True:
                        now = time.monotonic() - start
                        if ready_s is None and now > ready_timeout:
                                return None, (f"the guest was not ready within {ready_timeout} s "
                                              f"(a hang in boot or in the guest's setup)")
                        if now > timeout:
                                return ready_s, (f"the guest did not finish within {timeout} s "
                                                 f"(a hang in the scenario?)")
                        limit = ready_timeout if ready_s is None else timeout
                        r, _, _ = select.select([fd], [], [], max(0.1, limit - now))
                        if not r:
                                continue
                        chunk = os.read(fd, 65536)
                        if not chunk:
                                proc.wait()
                                return ready_s, None
                        buf += chunk
                        *lines, buf = buf.split(b"\n")
                        for raw in lines:
                                line = raw.decode(errors="replace").rstrip("\r")
                                if ready_s is None and READY_MARKER in line:
                                        ready_s = time.monotonic() - start
                                        if echo == "job":
                                                continue
                                if echo == "all" or (echo == "job" and ready_s is not None and (
                                                not CHATTER.match(line) or "FAIL" in line)):
                                        print(line, flush=True)

        def _verdict(self, proc, failure, qemu_err, ready_s, wall):
                path = os.path.join(self.results, "verdict.json")
                verdict = None
                try:
                        with open(path) as f:
                                verdict = json.load(f)
                except (OSError, ValueError):
                        pass
                if failure is None and verdict is None:
                        failure = ("the guest stopped without a verdict (QEMU exit status "
                                   f"{proc.returncode}; a crash, a panic or a failed setup: "
                                   f"see the guest's output)")
                if failure is not None:
                        if qemu_err:
                                failure += "\nQEMU said:\n" + qemu_err
                        return Result(False, failure, self.results, ready_s, wall)
                return Result(verdict.get("status") == "pass", verdict.get("message", ""),
                              self.results, ready_s, wall)
