"""Host rules (RFC 9112 §3.2, RFC 9110 §7.2): missing, repeated, empty, invalid, and absolute-form targets.

Every case is a row of cases.py (shared with scripts/differential); each becomes
one test method whose docstring names the RFC section it checks. After each one
the server must still be the same live process, with its descriptors back to
baseline and no byte from outside the root sent (confhelper.py).
"""

from confhelper import ConformanceTestCase, add_case_tests, main


class HostTest(ConformanceTestCase):
    """One test per row of cases.py in the group "host"."""


add_case_tests(HostTest, "host")


if __name__ == "__main__":
    main()
