# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real `iommuctl monitor`, running beside a test, its lines collected as they come."""

import json
import signal
import subprocess
import threading
import time

from harness import build_path, plain_env, wait_for


class Monitor:
    """iommuctl [--json] monitor, running; its lines are collected as they come."""

    def __init__(self, case, *options):
        harness = case.harness
        self.process = subprocess.Popen(
            [build_path('IOMMUCTL'), *options, 'monitor'], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            env=harness.bus.env(case.testbed.env(plain_env())))
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        # Subscribed once it prints a change: reload the policy until it does.
        def synced():
            harness.iommuctl('policy', 'reload')
            time.sleep(0.1)
            return self.lines
        wait_for(synced, 'the monitor to print the policy reload')

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip('\n'))

    def wait(self, predicate, what):
        """The first line (a JSON object with --json) for which @predicate holds."""
        def find():
            for line in list(self.lines):
                value = json.loads(line) if line.startswith('{') else line
                if predicate(value):
                    return [value]
            return None
        return wait_for(find, what)[0]

    def wait_lines(self, predicate, what):
        """Waits until @predicate holds for the lines printed so far."""
        return wait_for(lambda: predicate(list(self.lines)), what)

    def stop(self, sig=signal.SIGINT):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self.reader.join(timeout=5)
        return self.process.returncode, self.process.stderr.read()
