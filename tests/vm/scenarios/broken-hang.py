# SPDX-License-Identifier: LGPL-2.1-or-later
# Breaks on purpose (a test of the harness): the scenario hangs; the harness must stop the guest at
# the scenario's deadline and show what the guest said last, not wait for meson's timeout.
import select

TOPOLOGY = "server"
TIMEOUT = 90


def run(vm):
        vm.log("broken-hang: hanging on purpose")
        select.select([], [], [])
