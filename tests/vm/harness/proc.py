# SPDX-License-Identifier: LGPL-2.1-or-later
# Ends a child process politely, then not: used by the host harness and inside the guest.
import subprocess


def stop(proc, grace=10):
        """SIGTERM, GRACE seconds, then SIGKILL; reaps the process."""
        if proc.poll() is None:
                proc.terminate()
                try:
                        proc.wait(grace)
                except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
