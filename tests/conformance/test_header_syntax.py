"""Header field syntax (RFC 9112 §2.2, §5; RFC 9110 §5): whitespace before the colon, obs-fold, bare CR, control bytes in values, list elements.

Every case is a row of cases.py (shared with scripts/differential); each becomes
one test method whose docstring names the RFC section it checks. After each one
the server must still be the same live process, with its descriptors back to
baseline and no byte from outside the root sent (confhelper.py).
"""

from confhelper import ConformanceTestCase, add_case_tests, main


class HeaderSyntaxTest(ConformanceTestCase):
    """One test per row of cases.py in the group "header_syntax"."""


add_case_tests(HeaderSyntaxTest, "header_syntax")


if __name__ == "__main__":
    main()
