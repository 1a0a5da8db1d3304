# SPDX-License-Identifier: LGPL-2.1-or-later
# The one exception the harness raises for a problem it can explain.


class HarnessError(Exception):
        """Something the vm tier needs is missing or broken; the message says what."""
