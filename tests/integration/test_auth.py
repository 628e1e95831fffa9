"""Basic authentication (issue 16): --auth-file, --auth-path, --auth-realm.

A protected path without right credentials gets 401 with WWW-Authenticate (RFC 7617,
RFC 9110 §11) before the path is resolved, so a missing file and a present one look
alike; right credentials get the file. Malformed credentials are a 401 too, not a 400
(RFC 9110 §11.6.2: the client should retry with credentials). OPTIONS needs none (a
CORS preflight never carries them, and OPTIONS reveals nothing of the files), nor does
the --health path. Bad auth files are refused at start with exit status 2, and SIGHUP
reads the file again, keeping the old users when the new file is refused.

The htpasswd file is made at test time: SHA-512 and SHA-256 crypt by `openssl passwd`,
bcrypt by `htpasswd -B` when apache2-utils is installed (else that user is left out).

Every request goes through fetch, so the suite runs over HTTP/1.1, HTTPS, h2c and h2
(tests/CMakeLists.txt).
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import tlscerts
from wshelper import Server, ServerTestCase, fetch, make_root, run_webserver, wait_until, write_file

SECRET = b"top secret\n"
PUBLIC = b"public\n"


def sha_crypt(password, bits):
    out = subprocess.run(["openssl", "passwd", "-6" if bits == 512 else "-5", "-stdin"],
                         input=password.encode(), capture_output=True, check=True)
    return out.stdout.decode().strip()


def bcrypt(password):
    tool = shutil.which("htpasswd")
    if tool is None:
        return None
    out = subprocess.run([tool, "-B", "-C", "5", "-n", "-b", "u", password],
                         capture_output=True, check=True)
    return out.stdout.decode().strip().split(":", 1)[1]


def basic(user, password):
    return ("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode())


def write_auth_file(path, lines, mode=0o600):
    write_file(path, ("\n".join(lines) + "\n").encode(), mode)


USERS = None


def users():
    """{user: password} and the htpasswd lines for them, made once."""
    global USERS
    if USERS is None:
        creds = {"alice": "wonder land", "bob": "p\u00e4ss:word"}
        lines = ["# test users", "", "alice:" + sha_crypt(creds["alice"], 512),
                 "bob:" + sha_crypt(creds["bob"], 256)]
        hashed = bcrypt("bcrypt pw")
        if hashed is not None:
            creds["carol"] = "bcrypt pw"
            lines.append("carol:" + hashed)
        USERS = (creds, lines)
    return USERS


class AuthCase(ServerTestCase):
    auth_args = ()

    @classmethod
    def setUpClass(cls):
        cls.auth_dir = tempfile.mkdtemp(prefix="ws-auth-")
        cls.auth_file = os.path.join(cls.auth_dir, "htpasswd")
        write_auth_file(cls.auth_file, users()[1])
        cls.server_args = ("--auth-file", cls.auth_file) + tuple(cls.auth_args)
        try:
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.auth_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.auth_dir, ignore_errors=True)

    @classmethod
    def prepare_root(cls, root):
        os.mkdir(os.path.join(root, "private"))
        write_file(os.path.join(root, "private", "secret.txt"), SECRET)
        write_file(os.path.join(root, "public.txt"), PUBLIC)

    def assert_challenged(self, r, realm="webserver"):
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header_all("www-authenticate"),
                         ['Basic realm="%s", charset="UTF-8"' % realm])


class PathTest(AuthCase):
    auth_args = ("--auth-path", "/private/", "--auth-realm", "Staff only", "--health", "/healthz")

    def test_no_credentials(self):
        for path in ("/private/secret.txt", "/private/missing.txt", "/private/", "/private"):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assert_challenged(r, "Staff only")
                self.assertIn(b"401 Unauthorized", r.body)
                self.assertNotIn(SECRET, r.body)

    def test_right_credentials(self):
        for user, password in users()[0].items():
            with self.subTest(user=user):
                r = fetch(self.port, "/private/secret.txt", headers=[basic(user, password)])
                self.assertEqual((r.status, r.body), (200, SECRET))
                self.assertIsNone(r.header("www-authenticate"))
                # Again: the worker's cache of successful checks must give the same answer.
                r = fetch(self.port, "/private/secret.txt", headers=[basic(user, password)])
                self.assertEqual((r.status, r.body), (200, SECRET))
        r = fetch(self.port, "/private/missing.txt", headers=[basic("alice", "wonder land")])
        self.assertEqual(r.status, 404)

    def test_wrong_password_and_unknown_user(self):
        cases = [("alice", "wonder lan"), ("alice", "wonder land "), ("alice", ""),
                 ("bob", "wonder land"), ("mallory", "wonder land"), ("", "wonder land"),
                 ("Alice", "wonder land")]
        if "carol" in users()[0]:
            cases.append(("carol", "bcrypt PW"))
        for user, password in cases:
            with self.subTest(user=user, password=password):
                r = fetch(self.port, "/private/secret.txt", headers=[basic(user, password)])
                self.assert_challenged(r, "Staff only")
                # A failure is never cached: the right password after a wrong one works.
        r = fetch(self.port, "/private/secret.txt", headers=[basic("alice", "wonder land")])
        self.assertEqual(r.status, 200)

    def test_malformed_credentials(self):
        good = basic("alice", "wonder land")[1]
        for value in ("Basic", "Basic ", "Basic !!!!", "Basic YWxpY2U=",  # no ':'
                      "Bearer " + good.split(" ")[1], "Basic " + good.split(" ")[1][:-1],
                      "Digest username=alice", "Basic " + base64.b64encode(b"alice:a\x01b").decode()):
            with self.subTest(value=value):
                r = fetch(self.port, "/private/secret.txt", headers=[("Authorization", value)])
                self.assert_challenged(r, "Staff only")
        r = fetch(self.port, "/private/secret.txt",
                  headers=[("Authorization", "BASIC " + good.split(" ")[1])])
        self.assertEqual(r.status, 200)  # the scheme is case-insensitive

    def test_path_tricks_are_still_protected(self):
        for path in ("/%70rivate/secret.txt", "/x/../private/secret.txt", "/./private/secret.txt",
                     "//private/secret.txt", "/private%2Fsecret.txt"):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assertEqual(r.status in (400, 401), True, (path, r.status))
                self.assertNotIn(SECRET, r.body)

    def test_outside_the_prefix_needs_nothing(self):
        for path, body in (("/public.txt", PUBLIC), ("/HelloWorld.html", None)):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assertEqual(r.status, 200)
                if body is not None:
                    self.assertEqual(r.body, body)
        self.assertEqual(fetch(self.port, "/privateer").status, 404)
        self.assertEqual(fetch(self.port, "/healthz").body, b"ok")

    def test_head_and_options(self):
        r = fetch(self.port, "/private/secret.txt", method="HEAD")
        self.assert_challenged(r, "Staff only")
        self.assertEqual(r.body, b"")
        r = fetch(self.port, "/private/secret.txt", method="HEAD", headers=[basic("alice", "wonder land")])
        self.assertEqual((r.status, r.header("content-length")), (200, str(len(SECRET))))
        r = fetch(self.port, "/private/secret.txt", method="OPTIONS")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("www-authenticate"))


class UnknownUserTest(AuthCase):
    """An unknown name costs what some user's check costs, and the same each time: it
    is checked against the hash of a user picked by a keyed hash of the name. Users'
    hashes may differ in cost, so a fixed stand-in (the first user's, say) would let
    a name's time tell whether it exists. Here "quick" costs 5,000 SHA-512 rounds and
    "slow" 40 times as many; the file lists "quick" first."""

    @classmethod
    def setUpClass(cls):
        global USERS
        saved, USERS = USERS, ({}, ["quick:" + subprocess.run(
            ["openssl", "passwd", "-6", "-salt", "rounds=5000$quicksalt", "-stdin"],
            input=b"q", capture_output=True, check=True).stdout.decode().strip(),
            "slow:" + subprocess.run(
                ["openssl", "passwd", "-6", "-salt", "rounds=200000$slowsalt", "-stdin"],
                input=b"s", capture_output=True, check=True).stdout.decode().strip()])
        try:
            super().setUpClass()
        finally:
            USERS = saved

    def cost(self, user, tries=3):
        """The shortest of a few wrong-password checks of user: a busy machine only adds."""
        best = None
        for _ in range(tries):
            start = time.monotonic()
            r = fetch(self.port, "/public.txt", headers=[basic(user, "wrong")])
            took = time.monotonic() - start
            self.assert_challenged(r)
            best = took if best is None else min(best, took)
        return best

    def test_unknown_names_cost_what_users_cost(self):
        quick, slow = self.cost("quick"), self.cost("slow")
        self.assertGreater(slow, 8 * quick, "the two users' checks should differ in cost")
        line = (quick * slow) ** 0.5
        names = ["nobody%d" % i for i in range(16)]
        dear = [name for name in names if self.cost(name, 2) > line]
        # Each name goes one way or the other (probability 2 in 65,536 of all the same).
        self.assertTrue(0 < len(dear) < len(names),
                        "every unknown name cost the same: %d of %d as dear as 'slow'"
                        % (len(dear), len(names)))
        # ... and the same way again: the choice is the name's, not the request's.
        for name in dear[:3]:
            self.assertGreater(self.cost(name, 1), line, name)


class WholeSiteTest(AuthCase):
    def test_every_path_is_protected(self):
        for path in ("/", "/public.txt", "/missing", "/sub"):
            with self.subTest(path=path):
                self.assert_challenged(fetch(self.port, path))
        r = fetch(self.port, "/public.txt", headers=[basic("alice", "wonder land")])
        self.assertEqual((r.status, r.body), (200, PUBLIC))


class ReloadTest(AuthCase):
    def test_sighup_reads_the_file_again(self):
        creds, lines = users()
        self.assertEqual(fetch(self.port, "/public.txt", headers=[basic("alice", creds["alice"])]).status, 200)
        write_auth_file(self.auth_file, ["dave:" + sha_crypt("new one", 512)])
        os.kill(self.server.pid, signal.SIGHUP)
        self.assertTrue(wait_until(lambda: any("--auth-file reloaded" in l for l in self.server.stderr_lines), 5))
        self.assertEqual(fetch(self.port, "/public.txt", headers=[basic("dave", "new one")]).status, 200)
        # alice is gone, even from the workers' caches.
        self.assertEqual(fetch(self.port, "/public.txt", headers=[basic("alice", creds["alice"])]).status, 401)
        # A refused file keeps the users in use.
        write_auth_file(self.auth_file, ["eve:plaintext"])
        os.kill(self.server.pid, signal.SIGHUP)
        self.assertTrue(wait_until(lambda: any("not reloaded" in l for l in self.server.stderr_lines), 5))
        self.assertTrue(any("line 1" in l and "plain-text" in l for l in self.server.stderr_lines))
        self.assertEqual(fetch(self.port, "/public.txt", headers=[basic("dave", "new one")]).status, 200)
        self.assertEqual(fetch(self.port, "/public.txt", headers=[basic("eve", "plaintext")]).status, 401)


class LogTest(AuthCase):
    """The access log names the user that authenticated (the Combined Log Format's
    third field, JSON's "user"), and nobody for a wrong password or a public path."""

    access_log = "-"
    auth_args = ("--auth-path", "/private/")

    def lines_for(self, marker, count):
        self.assertTrue(wait_until(lambda: sum(marker in l for l in self.server.stdout_lines) >= count,
                                   5), self.server.stdout_lines)
        return [l for l in self.server.stdout_lines if marker in l]

    def test_user_in_the_access_log(self):
        ok = fetch(self.port, "/private/secret.txt?ok", headers=[basic("alice", "wonder land")])
        self.assertEqual(ok.status, 200)
        bad = fetch(self.port, "/private/secret.txt?bad", headers=[basic("alice", "wrong")])
        self.assertEqual(bad.status, 401)
        public = fetch(self.port, "/public.txt?pub", headers=[basic("alice", "wonder land")])
        self.assertEqual(public.status, 200)
        [line] = self.lines_for("secret.txt?ok", 1)
        self.assertRegex(line, r"^\S+ - alice \[")
        [line] = self.lines_for("secret.txt?bad", 1)
        self.assertRegex(line, r"^\S+ - - \[")
        [line] = self.lines_for("public.txt?pub", 1)
        self.assertRegex(line, r"^\S+ - - \[")


class JsonLogTest(LogTest):
    auth_args = ("--auth-path", "/private/", "--log-format", "json")

    def test_user_in_the_access_log(self):
        ok = fetch(self.port, "/private/secret.txt?ok", headers=[basic("bob", users()[0]["bob"])])
        self.assertEqual(ok.status, 200)
        bad = fetch(self.port, "/private/secret.txt?bad", headers=[basic("bob", "wrong")])
        self.assertEqual(bad.status, 401)
        [line] = self.lines_for("secret.txt?ok", 1)
        self.assertEqual(json.loads(line)["user"], "bob")
        [line] = self.lines_for("secret.txt?bad", 1)
        self.assertNotIn("user", json.loads(line))


class StartTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ws-auth-")
        self.file = os.path.join(self.dir, "htpasswd")
        self.good = "alice:" + sha_crypt("x", 512)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def refused(self, lines, mode=0o600, *extra):
        if lines is not None:
            write_auth_file(self.file, lines, mode)
        r = run_webserver(["-p", "0", "-r", self.dir, "--auth-file", self.file] + list(extra))
        self.assertEqual(r.returncode, 2, r.stderr)
        return r.stderr.decode()

    def test_bad_modes(self):
        self.assertIn("readable by others", self.refused([self.good], 0o644))
        self.assertIn("writable by others", self.refused([self.good], 0o620))
        self.assertIn("writable by others", self.refused([self.good], 0o602))

    def test_bad_lines(self):
        for line, why in (("bob:hunter2", "plain-text"), ("bob:$apr1$abc$defghijklmnopqrstuvwxy", "MD5"),
                          ("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "{SHA}"),
                          ("bob:abJnggxhB/yWI", "DES"), (":" + self.good.split(":", 1)[1], "empty user"),
                          ("bob", "no ':'"), ("bob:$9$zz$abc", "unsupported")):
            with self.subTest(line=line):
                err = self.refused(["# c", self.good, line])
                self.assertIn("line 3", err)
                self.assertIn(why, err)

    def test_unreadable_or_empty(self):
        self.assertIn("cannot read", self.refused(None))
        self.assertIn("no user", self.refused(["# nobody", ""]))

    def test_options_need_the_file_and_good_values(self):
        for args in (["--auth-path", "/x/"], ["--auth-realm", "r"],
                     ["--auth-file", "/nonexistent", "--auth-path", "x"],
                     ["--auth-file", "/nonexistent", "--auth-path", "/a/../b/"],
                     ["--auth-file", "/nonexistent", "--auth-realm", 'a"b']):
            with self.subTest(args=args):
                r = run_webserver(["-p", "0", "-r", self.dir] + args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(b"--auth-", r.stderr)

    @unittest.skipIf(tlscerts.OPENSSL is None, "openssl is not installed")
    def test_cleartext_warning_only_with_a_cleartext_port(self):
        write_auth_file(self.file, [self.good])
        root = make_root()
        try:
            for listen, warned in ((("--port", "0", "--bind", "127.0.0.1"), True),
                                   (("--port", "off", "--bind", "127.0.0.1"), False)):
                with self.subTest(listen=listen):
                    server = Server(root, ("--auth-file", self.file), listen_args=listen, tls=True)
                    try:
                        lines = list(server.stderr_lines)
                    finally:
                        server.stop()
                    self.assertEqual(any("over cleartext HTTP" in l for l in lines), warned, lines)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
