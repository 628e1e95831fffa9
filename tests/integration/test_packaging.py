"""packaging/webserver.service and webserver.socket: valid units (systemd-analyze, when
installed), with the sandboxing and the signals docs/deploy.md promises."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from wshelper import SOURCE_DIR, WEBSERVER

PACKAGING = os.path.join(SOURCE_DIR, "packaging")
ANALYZE = shutil.which("systemd-analyze")


def parse_unit(path):
    """{section: [(key, value)]} of a unit file (comments and blank lines dropped)."""
    sections = {}
    current = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            m = re.match(r"^\[(\w+)\]$", line)
            if m:
                current = sections.setdefault(m.group(1), [])
                continue
            key, sep, value = line.partition("=")
            if not sep or current is None:
                raise ValueError("bad line in %s: %r" % (path, line))
            current.append((key.strip(), value.strip()))
    return sections


def values(section, key):
    return [v for k, v in section if k == key]


class UnitTest(unittest.TestCase):
    def setUp(self):
        self.service = parse_unit(os.path.join(PACKAGING, "webserver.service"))
        self.socket = parse_unit(os.path.join(PACKAGING, "webserver.socket"))

    def one(self, section, key):
        v = values(section, key)
        self.assertEqual(len(v), 1, "%s=%r" % (key, v))
        return v[0]

    def test_service_sandbox(self):
        s = self.service["Service"]
        for key, want in (("Type", "simple"), ("DynamicUser", "yes"),
                          ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                          ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                          ("NoNewPrivileges", "yes"), ("CapabilityBoundingSet", ""),
                          ("SystemCallArchitectures", "native"),
                          ("MemoryDenyWriteExecute", "yes"), ("LockPersonality", "yes"),
                          ("RestrictNamespaces", "yes"), ("RestrictRealtime", "yes"),
                          ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
                          ("ProtectKernelLogs", "yes"), ("ProtectControlGroups", "yes"),
                          ("ProtectClock", "yes"), ("ProtectHostname", "yes"),
                          ("LimitNOFILE", "65536"), ("LogsDirectory", "webserver"),
                          ("KillSignal", "SIGTERM")):
            self.assertEqual(self.one(s, key), want, key)
        self.assertEqual(set(self.one(s, "RestrictAddressFamilies").split()),
                         {"AF_INET", "AF_INET6", "AF_UNIX"})
        self.assertRegex(self.one(s, "UMask"), r"^0[0-7]{3}$")
        self.assertNotIn("User", dict(s), "DynamicUser allocates the user")

    def test_service_command_and_signals(self):
        s = self.service["Service"]
        argv = self.one(s, "ExecStart").split()
        self.assertEqual(argv[0], "/usr/local/bin/webserver")
        args = dict(zip(argv[1::2], argv[2::2]))
        self.assertEqual(args.get("--root"), "/srv/www")
        self.assertIn("/srv/www", self.one(s, "ReadOnlyPaths").split())
        # The access log goes where LogsDirectory= makes a directory the user may write.
        self.assertTrue(args.get("--access-log", "").startswith("/var/log/webserver/"), args)
        self.assertNotIn("--user", args, "the socket gives the port: no root, no --user")
        self.assertEqual(self.one(s, "ExecReload"), "/bin/kill -HUP $MAINPID")
        grace = float(args.get("--shutdown-grace", "10"))
        stop = self.one(s, "TimeoutStopSec")
        self.assertGreater(float(stop.rstrip("s")), grace, "SIGKILL before the grace ends")
        self.assertIn("webserver.socket", self.one(self.service["Unit"], "Requires").split())
        # Every option in ExecStart is one the binary accepts.
        if WEBSERVER and os.access(WEBSERVER, os.X_OK):
            r = subprocess.run([WEBSERVER] + argv[1:] + ["--help"], capture_output=True,
                               timeout=10)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_socket(self):
        s = self.socket["Socket"]
        self.assertEqual(values(s, "ListenStream"), ["80"])
        self.assertEqual(self.one(s, "BindIPv6Only"), "both")
        self.assertEqual(self.one(s, "NoDelay"), "true")
        self.assertEqual(self.one(s, "Backlog"), "4096")
        self.assertEqual(self.one(s, "DeferAcceptSec"), "1", "as the server's --defer-accept")
        self.assertNotEqual(values(s, "Accept"), ["yes"], "one service, not one per connection")
        self.assertEqual(self.one(self.socket["Install"], "WantedBy"), "sockets.target")

    def with_binary(self, tmp):
        """Copies of the units whose ExecStart names the built binary (verify checks it)."""
        for name in ("webserver.service", "webserver.socket"):
            with open(os.path.join(PACKAGING, name)) as f:
                text = f.read()
            text = text.replace("/usr/local/bin/webserver", os.path.abspath(WEBSERVER))
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        return [os.path.join(tmp, n) for n in ("webserver.socket", "webserver.service")]

    def test_systemd_analyze_verify(self):
        if not ANALYZE:
            self.skipTest("systemd-analyze is not installed")
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        with tempfile.TemporaryDirectory() as tmp:
            units = self.with_binary(tmp)
            r = subprocess.run([ANALYZE, "verify", "--man=no"] + units, capture_output=True,
                               timeout=60, cwd=tmp)
        self.assertEqual((r.returncode, r.stderr.decode(), r.stdout.decode()), (0, "", ""))

    def test_systemd_analyze_security(self):
        if not ANALYZE:
            self.skipTest("systemd-analyze is not installed")
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        with tempfile.TemporaryDirectory() as tmp:
            service = self.with_binary(tmp)[1]
            r = subprocess.run([ANALYZE, "security", "--offline=true", "--no-pager", service],
                               capture_output=True, timeout=60, cwd=tmp)
        if r.returncode != 0 and b"offline" in r.stderr:
            self.skipTest("this systemd-analyze has no --offline")
        m = re.search(rb"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
        self.assertIsNotNone(m, r.stdout[-500:] + r.stderr)
        self.assertLessEqual(float(m.group(1)), 2.0, r.stdout.decode())


if __name__ == "__main__":
    unittest.main()
