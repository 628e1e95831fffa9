"""Message framing and smuggling (RFC 9112 §6, §7): Content-Length and Transfer-Encoding together, repeated and malformed lengths, huge numbers, unknown codings, chunked bodies with extensions, bad sizes, overflow.

Every case is a row of cases.py (shared with scripts/differential); each becomes
one test method whose docstring names the RFC section it checks. After each one
the server must still be the same live process, with its descriptors back to
baseline and no byte from outside the root sent (confhelper.py).
"""

from confhelper import ConformanceTestCase, add_case_tests, main


class FramingTest(ConformanceTestCase):
    """One test per row of cases.py in the group "framing"."""


add_case_tests(FramingTest, "framing")


if __name__ == "__main__":
    main()
