"""Request lines (RFC 9112 §3, RFC 9110 §9): methods, targets, versions, HTTP/0.9, whitespace and control bytes.

Every case is a row of cases.py (shared with scripts/differential); each becomes
one test method whose docstring names the RFC section it checks. After each one
the server must still be the same live process, with its descriptors back to
baseline and no byte from outside the root sent (confhelper.py).
"""

from confhelper import ConformanceTestCase, add_case_tests, main


class RequestLineTest(ConformanceTestCase):
    """One test per row of cases.py in the group "request_line"."""


add_case_tests(RequestLineTest, "request_line")


if __name__ == "__main__":
    main()
