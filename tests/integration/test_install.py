"""`cmake --install` puts the server, the client, the man page and the systemd units in place.

Reuses the build tree the tests run from (WEBSERVER is <build dir>/webserver): `cmake
--install` into a temporary prefix copies what is built and does not rebuild.
"""

import filecmp
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from wshelper import SOURCE_DIR, WEBSERVER

CMAKE = shutil.which("cmake")


def build_dir():
    """The top of the build tree that holds WEBSERVER, or None."""
    d = os.path.dirname(os.path.abspath(WEBSERVER))
    while d != os.path.dirname(d):
        if os.path.exists(os.path.join(d, "CMakeCache.txt")):
            return d
        d = os.path.dirname(d)
    return None


def cache_value(build, name):
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"^%s:\w+=(.*)$" % re.escape(name), line)
            if m:
                return m.group(1)
    return None


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            raise unittest.SkipTest("WEBSERVER is not set to the built binary")
        if not CMAKE:
            raise unittest.SkipTest("cmake is not installed")
        cls.build = build_dir()
        if cls.build is None:
            raise unittest.SkipTest("no CMakeCache.txt above %s" % WEBSERVER)
        cls.prefix = tempfile.mkdtemp(prefix="ws-install-")
        cls.result = subprocess.run([CMAKE, "--install", cls.build, "--prefix", cls.prefix],
                                    capture_output=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr.decode())

    def installed(self, rel):
        path = os.path.join(self.prefix, rel)
        self.assertTrue(os.path.isfile(path), "%s not installed; got:\n%s"
                        % (rel, "\n".join(self.listing())))
        return path

    def listing(self):
        out = []
        for dirpath, _, files in os.walk(self.prefix):
            out += [os.path.relpath(os.path.join(dirpath, f), self.prefix) for f in files]
        return sorted(out)

    def bindir(self):
        return cache_value(self.build, "CMAKE_INSTALL_BINDIR") or "bin"

    def mandir(self):
        return cache_value(self.build, "CMAKE_INSTALL_MANDIR") or "share/man"

    def test_binaries(self):
        for name in ("webserver", "client"):
            path = self.installed(os.path.join(self.bindir(), name))
            self.assertTrue(os.access(path, os.X_OK), path)
        r = subprocess.run([os.path.join(self.prefix, self.bindir(), "webserver"), "--version"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"^webserver \d+\.\d+\.\d+\n$")
        r = subprocess.run([os.path.join(self.prefix, self.bindir(), "client"), "--help"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_man_page(self):
        path = self.installed(os.path.join(self.mandir(), "man1", "webserver.1"))
        self.assertTrue(filecmp.cmp(path, os.path.join(SOURCE_DIR, "docs", "webserver.1"),
                                    shallow=False))
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o644)

    def test_systemd_units(self):
        unitdir = cache_value(self.build, "WS_SYSTEMD_UNITDIR") or "lib/systemd/system"
        if os.path.isabs(unitdir):
            self.skipTest("WS_SYSTEMD_UNITDIR is absolute (%s): not under the prefix" % unitdir)
        socket_unit = self.installed(os.path.join(unitdir, "webserver.socket"))
        service = self.installed(os.path.join(unitdir, "webserver.service"))
        self.assertTrue(filecmp.cmp(socket_unit, os.path.join(SOURCE_DIR, "packaging",
                                                              "webserver.socket"), shallow=False))
        with open(service) as f:
            text = f.read()
        with open(os.path.join(SOURCE_DIR, "packaging", "webserver.service")) as f:
            source = f.read()
        # The same unit, except that ExecStart names the binary under the configured prefix.
        configured = cache_value(self.build, "CMAKE_INSTALL_PREFIX")
        full_bindir = os.path.join(configured, self.bindir())
        self.assertIn("ExecStart=%s/webserver " % full_bindir, text)
        self.assertEqual(text.replace("%s/webserver" % full_bindir, "/usr/local/bin/webserver"),
                         source)

    def test_nothing_else(self):
        unitdir = cache_value(self.build, "WS_SYSTEMD_UNITDIR") or "lib/systemd/system"
        want = {os.path.join(self.bindir(), "webserver"), os.path.join(self.bindir(), "client"),
                os.path.join(self.mandir(), "man1", "webserver.1")}
        if not os.path.isabs(unitdir):
            want |= {os.path.join(unitdir, "webserver.service"),
                     os.path.join(unitdir, "webserver.socket")}
        self.assertEqual(set(self.listing()), want)


if __name__ == "__main__":
    unittest.main()
