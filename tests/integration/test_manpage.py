"""docs/webserver.1 against `webserver --help`: the same options, in the same order, with the
same short forms and defaults, and a page that renders without warnings."""

import os
import re
import shutil
import subprocess
import unittest

from wshelper import SOURCE_DIR, WEBSERVER

MANPAGE = os.path.join(SOURCE_DIR, "docs", "webserver.1")

LONG_OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")


def help_text():
    r = subprocess.run([WEBSERVER, "--help"], capture_output=True, timeout=10)
    if r.returncode != 0:
        raise AssertionError("webserver --help exited %d" % r.returncode)
    return r.stdout.decode()


def help_options(text):
    """[(short or None, long, default or None)] from the option lines of --help, in order."""
    entries = []  # [short, long, description lines joined]
    for line in text.splitlines():
        m = re.match(r"^  (?:-(\w), )?\s*--([a-z][a-z0-9-]*)", line)
        if m:
            entries.append([m.group(1), m.group(2), line])
        elif entries and entries[-1] is not None and re.match(r"^ {20,}\S", line):
            entries[-1][2] += " " + line.strip()  # a continuation line
        elif not line.strip() and entries:
            entries.append(None)  # the option list has ended
    out = []
    for e in entries:
        if e is None:
            break
        d = re.search(r"\(default:? ([^;:)]+)", e[2])
        out.append((e[0], e[1], d.group(1).strip() if d else None))
    return out


def man_source():
    with open(MANPAGE, encoding="utf-8") as f:
        return f.read()


def plain(roff):
    """roff text with escapes for hyphens and fonts resolved, comments dropped."""
    lines = [l for l in roff.splitlines() if not l.startswith('.\\"')]
    text = "\n".join(lines)
    text = text.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    text = re.sub(r"\\f[BIRP]", "", text)
    return text


def man_sections(roff):
    """{section name: its roff source}."""
    sections = {}
    name = None
    for line in roff.splitlines():
        m = re.match(r'^\.SH\s+"?([^"]+?)"?\s*$', line)
        if m:
            name = m.group(1)
            sections[name] = ""
        elif name is not None:
            sections[name] += line + "\n"
    return sections


def man_options(roff):
    """[(short or None, long, default or None)] from the .TP tags of OPTIONS, in order."""
    text = plain(man_sections(roff)["OPTIONS"])
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.strip() != ".TP" or i + 1 >= len(lines):
            continue
        tag = re.sub(r"^\.(?:BR|B|IR|I)\s+", "", lines[i + 1]).replace('"', "")
        tag = re.sub(r"\s+", " ", tag).replace(" ,", ",")
        m = re.match(r"^(?:-(\w), )?--([a-z][a-z0-9-]*)", tag)
        if not m:
            continue
        body = []
        for l in lines[i + 2:]:
            if l.startswith(".TP") or l.startswith(".SH"):
                break
            body.append(re.sub(r"^\.\w+\s*", "", l).replace('"', ""))
        d = re.search(r"\(default:? ([^;:)]+)", " ".join(body))
        out.append((m.group(1), m.group(2), d.group(1).strip() if d else None))
    return out


class ManPageTest(unittest.TestCase):
    def setUp(self):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        self.help = help_text()
        self.roff = man_source()

    def test_same_long_options_everywhere(self):
        from_help = set(LONG_OPTION.findall(self.help))
        from_man = set(LONG_OPTION.findall(plain(self.roff)))
        self.assertGreater(len(from_help), 20)
        self.assertEqual(from_man - from_help, set(), "in the man page, not in --help")
        self.assertEqual(from_help - from_man, set(), "in --help, not in the man page")

    def test_options_section_matches_help(self):
        h = help_options(self.help)
        m = man_options(self.roff)
        self.assertEqual([o[1] for o in m], [o[1] for o in h], "options or their order differ")
        self.assertEqual([(o[0], o[1]) for o in m], [(o[0], o[1]) for o in h],
                         "short forms differ")
        self.assertEqual([(o[1], o[2]) for o in m], [(o[1], o[2]) for o in h], "defaults differ")

    def test_every_documented_option_is_accepted(self):
        # And the binary really knows each of them (--help text can lie too).
        for _, name, _ in help_options(self.help):
            r = subprocess.run([WEBSERVER, "--%s" % name, "--help"], capture_output=True,
                               timeout=10)
            self.assertNotIn(b"unknown option", r.stderr, name)

    def test_version_matches(self):
        r = subprocess.run([WEBSERVER, "--version"], capture_output=True, timeout=10)
        version = r.stdout.decode().split()[-1]
        th = re.search(r'^\.TH\s+WEBSERVER\s+1\s+"[^"]*"\s+"webserver ([^"]+)"', self.roff, re.M)
        self.assertIsNotNone(th, "no .TH line")
        self.assertEqual(th.group(1), version)

    def test_sections(self):
        names = list(man_sections(self.roff))
        for want in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "EXIT STATUS",
                     "FILES", "EXAMPLES", "SEE ALSO"):
            self.assertIn(want, names)
        for sig in ("SIGHUP", "SIGUSR1", "SIGTERM"):
            self.assertIn(sig, man_sections(self.roff)["SIGNALS"])

    def test_renders_without_warnings(self):
        groff = shutil.which("groff")
        if not groff:
            self.skipTest("groff is not installed (Debian package groff-base)")
        r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", MANPAGE], capture_output=True,
                           timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, b""))

    def test_man_renders(self):
        man = shutil.which("man")
        if not man:
            self.skipTest("man is not installed (Debian package man-db)")
        env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0", PAGER="cat",
                   MANPAGER="cat")
        r = subprocess.run([man, "-l", MANPAGE], capture_output=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = re.sub(r".\x08", "", r.stdout.decode("utf-8", "replace"))
        self.assertIn("webserver - a small static-file HTTP/1.1 and HTTPS server", text)
        self.assertIn("--trusted-proxy=ADDR[/N]", text)


if __name__ == "__main__":
    unittest.main()
