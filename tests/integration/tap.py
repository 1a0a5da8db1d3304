# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs unittest test cases and reports them in TAP, so meson shows each one by name."""

import sys
import unittest


def comment(text):
    for line in text.rstrip('\n').splitlines():
        print(f'# {line}')


class TapResult(unittest.TestResult):
    """One TAP line per test method; failing subtests make their method fail."""

    def __init__(self):
        super().__init__()
        self.number = 0
        self.problems = None
        self.directive = ''

    def startTest(self, test):
        super().startTest(test)
        self.problems, self.directive = [], ''

    def stopTest(self, test):
        super().stopTest(test)
        self.number += 1
        print(f'{"not ok" if self.problems else "ok"} {self.number} - {test.id()}'
              f'{self.directive}')
        for problem in self.problems:
            comment(problem)
        diagnostics = getattr(test, 'diagnostics', None)
        if self.problems and diagnostics:
            comment(diagnostics())
        sys.stdout.flush()
        self.problems = None

    def problem(self, test, err):
        text = self._exc_info_to_string(err, test)
        if self.problems is None:
            # setUpClass or a module fixture failed: nothing after it can run.
            comment(text)
            print(f'Bail out! {test}')
            sys.stdout.flush()
            return
        self.problems.append(text)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.problem(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self.problem(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.problem(subtest, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.directive = f' # SKIP {reason}'


def main(*test_cases):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(c) for c in test_cases)
    print(f'1..{suite.countTestCases()}')
    sys.stdout.flush()
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1
