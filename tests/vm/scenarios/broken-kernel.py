# SPDX-License-Identifier: LGPL-2.1-or-later
# Breaks on purpose (a test of the harness): the guest kernel panics mid-scenario, so no verdict is
# ever written; the harness must say so promptly and show the panic from the guest's console.
TOPOLOGY = "server"
TIMEOUT = 300


def run(vm):
        vm.log("broken-kernel: crashing the guest kernel on purpose")
        with open("/proc/sysrq-trigger", "w") as f:
                f.write("c")
