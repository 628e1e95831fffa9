"""A real browser against the real server: scripts/screenshots under ctest.

The browser test runs scripts/screenshots --no-install with the binary under
test ($WEBSERVER) and screenshots written to a temporary directory, never to
docs/img/. The script loads /HelloWorld.html, a missing page, the /files
directory (301, then a listing) and the index in headless Chromium, the index
once more over HTTPS (https://localhost:PORT/, a certificate from a CA the
script makes at run time), and fails
unless the DOM Chromium built holds each page's text, the server's access log
shows Chromium's requests with the expected statuses, and each screenshot is a
non-blank PNG; it also stops the server and fails on anything foreign on its
stderr (a sanitizer report). It is skipped when /usr/bin/chromium is missing
(Debian package chromium, plus fonts-dejavu-core for text).

The HTTPS test drives the same pieces of the script directly, so that what
HTTPS adds is checked on its own: a test CA and a localhost certificate made
with openssl, the server with --tls-port 0 and a JSON access log, Chromium
trusting that certificate's key only (--ignore-certificate-errors-spki-list,
never --ignore-certificate-errors), the page's text, a non-blank screenshot,
and every request of the page -- the document and its sub-resources -- logged
with "tls_version" and "tls_cipher". It also checks that the trust is that
narrow: with another key's hash Chromium gets no page and the server logs no
request from it. Over HTTPS Chromium must speak HTTP/2 (ALPN h2): the JSON access
log shows each of the page's requests as "HTTP/2.0" with its stream id.

The site test needs no browser: it checks that www/'s derived files
(style.css.gz, the fingerprinted stylesheet, files/sample.txt) match their
sources, and that the pages are HTML5 in UTF-8 with nothing from other hosts.

ctest labels: integration;browser.
"""

import base64
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wshelper  # noqa: E402  (WEBSERVER, SOURCE_DIR, SLOW)

SCRIPT = os.path.join(wshelper.SOURCE_DIR, "scripts", "screenshots")
CHROMIUM = "/usr/bin/chromium"
PAGES = ("helloworld", "404", "listing", "index", "index-https")


def load_script():
    """scripts/screenshots as a module (it has no .py suffix)."""
    loader = SourceFileLoader("screenshots", SCRIPT)
    module = module_from_spec(spec_from_loader("screenshots", loader))
    loader.exec_module(module)
    return module


class SiteTest(unittest.TestCase):
    def test_www_is_consistent_and_offline(self):
        script = load_script()
        try:
            script.check_site_files()
        except script.CheckFailed as e:
            self.fail(str(e))

    def test_helloworld_is_the_assignment_page(self):
        with open(os.path.join(wshelper.SOURCE_DIR, "www", "HelloWorld.html"), encoding="utf-8") as f:
            text = f.read()
        self.assertTrue(text.startswith("<!DOCTYPE html>\n"))
        self.assertIn("<h1>Hello, World!</h1>", text)

    def test_www_is_small(self):
        total = 0
        for dirpath, _, names in os.walk(os.path.join(wshelper.SOURCE_DIR, "www")):
            total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in names)
        self.assertLess(total, 1 << 20, "www/ should stay under 1 MiB")


@unittest.skipUnless(os.access(CHROMIUM, os.X_OK),
                     "%s is missing: install Debian's chromium and fonts-dejavu-core "
                     "(or run scripts/screenshots, which installs them)" % CHROMIUM)
class BrowserTest(unittest.TestCase):
    def test_chromium_gets_every_page(self):
        self.assertTrue(wshelper.WEBSERVER, "WEBSERVER is not set (run this through ctest)")
        with tempfile.TemporaryDirectory(prefix="ws-browser-") as out:
            env = dict(os.environ, WEBSERVER=wshelper.WEBSERVER)
            proc = subprocess.Popen([sys.executable, SCRIPT, "--no-install", "--out", out],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env)
            try:
                output, _ = proc.communicate(timeout=120 * wshelper.SLOW)
            except subprocess.TimeoutExpired:
                # SIGTERM lets the script stop the server and Chromium first.
                proc.send_signal(signal.SIGTERM)
                try:
                    output, _ = proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    output, _ = proc.communicate()
                self.fail("scripts/screenshots timed out:\n" + output.decode("utf-8", "replace"))
            text = output.decode("utf-8", "replace")
            self.assertEqual(proc.returncode, 0, "scripts/screenshots failed:\n" + text)
            for name in PAGES:
                path = os.path.join(out, name + ".png")
                self.assertTrue(os.path.getsize(path) > 0, path)
            sys.stderr.write(text)

    def test_chromium_gets_the_site_over_https(self):
        self.assertTrue(wshelper.WEBSERVER, "WEBSERVER is not set (run this through ctest)")
        script = load_script()
        page = next(p for p in script.PAGES if p.get("https"))
        with tempfile.TemporaryDirectory(prefix="ws-browser-tls-") as tmp:
            certificate = script.TestCertificate(tmp)
            server = script.Server(wshelper.WEBSERVER, tmp, certificate)
            try:
                # A key that is not the server's: the certificate error stands,
                # Chromium shows no page and sends no request.
                offset = len(server.access_log())
                other_key = "--ignore-certificate-errors-spki-list=" + base64.b64encode(b"\0" * 32).decode()
                dom = script.run_chromium(["--dump-dom", other_key], server.url("/", https=True), tmp)
                self.assertNotIn("<title>webserver demo site</title>", dom)
                self.assertEqual(script.requests_since(server, offset), [],
                                 "Chromium sent requests through an untrusted certificate")

                offset = len(server.access_log())
                try:
                    script.check_page(page, server, tmp, tmp, certificate)
                except script.CheckFailed as e:
                    self.fail(str(e))
                self.assertIsNone(script.png_problem(os.path.join(tmp, page["name"] + ".png"),
                                                     script.WINDOW))
                records = script.chromium_requests(server, offset)
                paths = [r["path"] for r in records]
                for path, _ in page["log"]:
                    self.assertIn(path, paths)
                for r in records:
                    self.assertIn(r.get("tls_version"), ("TLSv1.2", "TLSv1.3"), r)
                    self.assertTrue(r.get("tls_cipher"), r)
                # Chromium offers TLS 1.3, and the server's default minimum is 1.2.
                self.assertEqual(records[0]["path"], "/")
                self.assertEqual(records[0]["tls_version"], "TLSv1.3", records[0])
            finally:
                rc = server.stop()
            self.assertEqual(rc, 0, "the server exited %d:\n%s" % (rc, server.stderr()))
            foreign = [l for l in server.stderr().splitlines() if l and not l.startswith("webserver: ")]
            self.assertEqual(foreign, [], "the server wrote to stderr")

    def test_chromium_speaks_http2_over_https(self):
        # Chromium offers h2 first by ALPN, and the server takes it: the access log
        # shows the document and every sub-resource as HTTP/2.0, each with its stream.
        self.assertTrue(wshelper.WEBSERVER, "WEBSERVER is not set (run this through ctest)")
        script = load_script()
        page = next(p for p in script.PAGES if p.get("https"))
        with tempfile.TemporaryDirectory(prefix="ws-browser-h2-") as tmp:
            certificate = script.TestCertificate(tmp)
            server = script.Server(wshelper.WEBSERVER, tmp, certificate)
            try:
                offset = len(server.access_log())
                try:
                    script.check_page(page, server, None, tmp, certificate)
                except script.CheckFailed as e:
                    self.fail(str(e))
                records = script.chromium_requests(server, offset)
                paths = [r["path"] for r in records]
                for path, _ in page["log"]:
                    self.assertIn(path, paths)
                for r in records:
                    self.assertTrue(r.get("request", "").endswith(" HTTP/2.0"), r)
                    stream = r.get("stream")
                    self.assertTrue(isinstance(stream, int) and stream > 0 and stream % 2 == 1, r)
            finally:
                rc = server.stop()
            self.assertEqual(rc, 0, "the server exited %d:\n%s" % (rc, server.stderr()))
            foreign = [l for l in server.stderr().splitlines() if l and not l.startswith("webserver: ")]
            self.assertEqual(foreign, [], "the server wrote to stderr")

    def test_chromium_renders_a_compressed_page_and_an_spa_route(self):
        # The demo page is compressed on the fly for Chromium (its Accept-Encoding
        # takes gzip and zstd; no sibling exists): the access log's body bytes are
        # fewer than the file's, and the DOM Chromium built from them is the page.
        # With --fallback, a route of a single-page application (no extension)
        # gets index.html with 200, and Chromium renders it too.
        self.assertTrue(wshelper.WEBSERVER, "WEBSERVER is not set (run this through ctest)")
        script = load_script()
        page = next(p for p in script.PAGES if p["name"] == "index")
        size = os.path.getsize(os.path.join(wshelper.SOURCE_DIR, "www", "index.html"))
        with tempfile.TemporaryDirectory(prefix="ws-browser-gz-") as tmp:
            server = script.Server(wshelper.WEBSERVER, tmp, extra_args=["--fallback", "index.html"])
            try:
                offset = len(server.access_log())
                try:
                    script.check_page(page, server, tmp, tmp)
                except script.CheckFailed as e:
                    self.fail(str(e))
                [doc] = [r for r in script.chromium_requests(server, offset) if r["path"] == "/"]
                self.assertEqual(doc["status"], 200)
                self.assertLess(doc["bytes"], size * 0.6, "index.html was not compressed: %r" % doc)

                route = "/app/settings/profile"
                offset = len(server.access_log())
                dom = script.run_chromium(["--dump-dom"], server.url(route), tmp)
                for pattern in page["dom"]:
                    self.assertRegex(dom, pattern)
                self.assertTrue(wshelper.wait_until(
                    lambda: (route, 200) in script.requests_since(server, offset), 5),
                    script.requests_since(server, offset))
            finally:
                rc = server.stop()
            self.assertEqual(rc, 0, "the server exited %d:\n%s" % (rc, server.stderr()))
            foreign = [l for l in server.stderr().splitlines() if l and not l.startswith("webserver: ")]
            self.assertEqual(foreign, [], "the server wrote to stderr")


if __name__ == "__main__":
    unittest.main(verbosity=2)
