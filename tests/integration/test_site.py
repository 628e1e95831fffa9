"""What a real site asks of a static server (issue 16): the single-page-application
fallback (--fallback), the operator's response fields (--header, --header-for,
--security-headers), CORS (--cors), directory listings as JSON, and the health path
(--health). Bad values of each flag are refused at start with a clear message and
exit status 2.

Every test here speaks through fetch/get, so the suite runs over HTTP/1.1, HTTPS,
h2c and h2 alike (tests/CMakeLists.txt); the fields must come out identically on
each, lowercased by HTTP/2.
"""

import json
import os
import unittest
from urllib.parse import urljoin

from wshelper import (H2, Server, ServerTestCase, assert_refused_at_start, fetch, run_webserver,
                      set_mtime_ns, write_file)

MTIME = 1614834367  # 2021-03-04 05:06:07 UTC

APP = b"<!DOCTYPE html><title>app</title><div id=root></div>\n"
SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "SAMEORIGIN",
}


class FallbackTest(ServerTestCase):
    server_args = ("--fallback", "app/index.html")

    @classmethod
    def prepare_root(cls, root):
        os.mkdir(os.path.join(root, "app"))
        write_file(os.path.join(root, "app", "index.html"), APP)
        write_file(os.path.join(root, "app", "main.js"), b"console.log(1)\n")
        write_file(os.path.join(root, ".secret"), b"hidden\n")
        os.mkdir(os.path.join(root, "dir"))
        write_file(os.path.join(root, "dir", "index.html"), b"dir index\n")

    def test_missing_fallback_is_warned_of(self):
        # The class's server found its file and said nothing.
        self.assertFalse(any("--fallback" in l for l in self.server.stderr_lines),
                         self.server.stderr_lines)
        server = Server(self.root, ("--fallback", "app/missing.html"))
        try:
            lines = list(server.stderr_lines)
            self.assertEqual(fetch(server.port, "/some/route").status, 404)
        finally:
            server.stop()
        self.assertTrue(any("warning: --fallback app/missing.html: no such file" in l
                            for l in lines), lines)

    def test_route_gets_the_fallback(self):
        for path in ("/users/42", "/a/b/c", "/users/42?tab=x", "/v1.2/route"):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, APP)
                self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")

    def test_head_gets_the_fallback_head(self):
        r = fetch(self.port, "/users/42", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("content-length"), str(len(APP)))

    def test_fallback_has_its_own_validators(self):
        direct = fetch(self.port, "/app/index.html")
        r = fetch(self.port, "/some/route")
        self.assertIsNotNone(r.header("etag"))
        self.assertEqual(r.header("etag"), direct.header("etag"))
        self.assertEqual(r.header("last-modified"), direct.header("last-modified"))
        again = fetch(self.port, "/other/route", headers=[("If-None-Match", r.header("etag"))])
        self.assertEqual(again.status, 304)

    def test_missing_asset_is_still_404(self):
        for path in ("/logo.png", "/app/missing.js", "/a/b/style.css"):
            with self.subTest(path=path):
                self.assertEqual(fetch(self.port, path).status, 404)

    def test_html_navigation_to_a_dotted_path_gets_the_fallback(self):
        accept = "text/html,application/xhtml+xml,*/*;q=0.8"
        r = fetch(self.port, "/user/jane.doe", headers=[("Accept", accept)])
        self.assertEqual((r.status, r.body), (200, APP))
        self.assertIn("Accept", [v.strip() for v in (r.header("vary") or "").split(",")])
        r = fetch(self.port, "/user/jane.doe", headers=[("Accept", "*/*")])
        self.assertEqual(r.status, 404)
        # Accept decided both answers: a shared cache must not give one for the other.
        self.assertIn("Accept", [v.strip() for v in (r.header("vary") or "").split(",")])
        r = fetch(self.port, "/users/42", headers=[("Accept", accept)])
        self.assertNotIn("Accept", [v.strip() for v in (r.header("vary") or "").split(",")])

    def test_existing_files_are_untouched(self):
        self.assertEqual(fetch(self.port, "/app/main.js").body, b"console.log(1)\n")
        self.assertEqual(fetch(self.port, "/dir/").body, b"dir index\n")

    def test_no_fallback_for_refused_or_redirected_paths(self):
        self.assertEqual(fetch(self.port, "/.secret").status, 404)
        self.assertEqual(fetch(self.port, "/.git/config").status, 404)
        r = fetch(self.port, "/dir")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("location"), "/dir/")
        self.assertEqual(fetch(self.port, "/../etc/passwd").status in (400, 404), True)

    def test_post_is_not_answered_with_the_fallback(self):
        self.assertEqual(fetch(self.port, "/users/42", method="POST").status, 405)


class FieldsTest(ServerTestCase):
    server_args = ("--header", "X-Site: one",
                   "--header=Content-Security-Policy: default-src 'self'",
                   "--header-for", "/assets/*", "Cache-Control: public, max-age=31536000, immutable",
                   "--header-for", "*.wasm", "X-Wasm: yes",
                   "--security-headers")

    @classmethod
    def prepare_root(cls, root):
        os.makedirs(os.path.join(root, "assets", "deep"))
        write_file(os.path.join(root, "assets", "deep", "app.js"), b"x\n")
        write_file(os.path.join(root, "assets", "m.wasm"), b"\0asm")
        write_file(os.path.join(root, "caf\u00e9.wasm"), b"\0asm")

    def test_every_response_gets_the_fields(self):
        for path, status in (("/HelloWorld.html", 200), ("/missing", 404), ("/sub", 301)):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assertEqual(r.status, status)
                self.assertEqual(r.header_all("x-site"), ["one"])
                self.assertEqual(r.header("content-security-policy"), "default-src 'self'")
                for name, value in SECURITY.items():
                    self.assertEqual(r.header(name), value)
        r = fetch(self.port, "/HelloWorld.html", method="OPTIONS")
        self.assertEqual(r.header("x-site"), "one")
        r = fetch(self.port, "/HelloWorld.html",
                  headers=[("If-None-Match", fetch(self.port, "/HelloWorld.html").header("etag"))])
        self.assertEqual(r.status, 304)
        self.assertEqual(r.header("x-site"), "one")

    def test_glob_fields(self):
        r = fetch(self.port, "/assets/deep/app.js")
        self.assertEqual(r.header_all("cache-control"), ["public, max-age=31536000, immutable"])
        self.assertIsNone(r.header("x-wasm"))
        r = fetch(self.port, "/assets/m.wasm")
        self.assertEqual(r.header("x-wasm"), "yes")
        r = fetch(self.port, "/caf%C3%A9.wasm")  # matched on the decoded path
        self.assertEqual((r.status, r.header("x-wasm")), (200, "yes"))
        self.assertNotIn("immutable", r.header("cache-control") or "")
        r = fetch(self.port, "/HelloWorld.html")
        self.assertNotIn("immutable", r.header("cache-control") or "")
        self.assertIsNone(r.header("x-wasm"))


class BadFlagsTest(unittest.TestCase):
    def refused(self, args, words):
        assert_refused_at_start(self, args, words)

    def test_bad_values_refused_at_start(self):
        cases = [
            (["--header", "Bad Name: x"], ["--header", "not a token"]),
            (["--header", "X-A: a\r\nSet-Cookie: x=1"], ["--header", "control character"]),
            (["--header", "X-A: a\x01"], ["control character"]),
            (["--header", "no colon"], ["Name: value"]),
            (["--header", "Content-Length: 1"], ["sets this field itself"]),
            (["--header", "transfer-encoding: chunked"], ["sets this field itself"]),
            (["--header", "Connection: close"], ["sets this field itself"]),
            (["--header", "Vary: Cookie"], ["sets this field itself"]),
            (["--header", "Access-Control-Allow-Origin: *"], ["sets this field itself"]),
            (["--header-for", "/a/*"], ["--header-for"]),
            (["--header-for", "a/*", "X-A: 1"], ["--header-for", "must start with"]),
            (["--cors", "example.com"], ["--cors", "origin"]),
            (["--cors", "https://a.example/"], ["--cors"]),
            (["--cors", "*", "--cors", "https://a.example"], ["give it alone"]),
            (["--health", "healthz"], ["--health", "absolute path"]),
            (["--fallback", "../index.html"], ["--fallback", "under the root"]),
            (["--fallback", ".env"], ["--fallback", "hidden"]),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                self.refused(args, words)

    def test_help_names_every_flag(self):
        r = run_webserver(["--help"])
        self.assertEqual(r.returncode, 0)
        for flag in ("--fallback", "--header=", "--header-for", "--security-headers", "--cors",
                     "--health"):
            self.assertIn(flag.encode(), r.stdout)


class CorsTest(ServerTestCase):
    server_args = ("--cors", "https://app.example", "--cors", "http://localhost:3000")

    def test_allowed_origin(self):
        for origin in ("https://app.example", "http://localhost:3000"):
            with self.subTest(origin=origin):
                r = fetch(self.port, "/HelloWorld.html", headers=[("Origin", origin)])
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header_all("access-control-allow-origin"), [origin])
                self.assertIn("Origin", [v.strip() for v in r.header("vary").split(",")])

    def test_disallowed_or_absent_origin(self):
        for headers in ([("Origin", "https://evil.example")], [("Origin", "https://app.example.evil")],
                        []):
            with self.subTest(headers=headers):
                r = fetch(self.port, "/HelloWorld.html", headers=headers)
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.header("access-control-allow-origin"))
                self.assertIn("Origin", r.header("vary"))

    def test_preflight(self):
        r = fetch(self.port, "/HelloWorld.html", method="OPTIONS",
                  headers=[("Origin", "https://app.example"),
                           ("Access-Control-Request-Method", "GET"),
                           ("Access-Control-Request-Headers", "Range, X-Custom, If-None-Match")])
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        self.assertIsNone(r.header("content-length"))
        self.assertEqual(r.header("access-control-allow-origin"), "https://app.example")
        self.assertEqual(r.header("access-control-allow-methods"), "GET, HEAD, OPTIONS")
        self.assertEqual(r.header("access-control-allow-headers"), "range, if-none-match")
        self.assertEqual(r.header("access-control-max-age"), "7200")
        self.assertIn("Origin", r.header("vary"))

    def test_preflight_from_a_disallowed_origin(self):
        r = fetch(self.port, "/HelloWorld.html", method="OPTIONS",
                  headers=[("Origin", "https://evil.example"),
                           ("Access-Control-Request-Method", "GET")])
        self.assertEqual(r.status, 200)
        for name in ("access-control-allow-origin", "access-control-allow-methods",
                     "access-control-max-age"):
            self.assertIsNone(r.header(name))

    def test_errors_carry_cors_too(self):
        r = fetch(self.port, "/missing", headers=[("Origin", "https://app.example")])
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("access-control-allow-origin"), "https://app.example")


class CorsAnyTest(ServerTestCase):
    server_args = ("--cors", "*", "--security-headers")

    def test_star(self):
        for headers in ([("Origin", "https://whoever.example")], []):
            r = fetch(self.port, "/HelloWorld.html", headers=headers)
            self.assertEqual(r.header("access-control-allow-origin"), "*")
            self.assertNotIn("Origin", r.header("vary") or "")
        r = fetch(self.port, "/HelloWorld.html", method="OPTIONS",
                  headers=[("Origin", "https://whoever.example"),
                           ("Access-Control-Request-Method", "GET")])
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("access-control-allow-origin"), "*")
        self.assertIsNone(r.header("access-control-allow-headers"))
        self.assertEqual(r.header("x-frame-options"), "SAMEORIGIN")


JSON_NAMES = ["plain.txt", "quote\"back\\slash.txt", "sp ace.txt", "\u00fcnic\u00f6de.txt"]
ODD = [b"new\nline.txt", b"latin1-\xe9.txt", b"ctl\x01.txt"]


class JsonListingTest(ServerTestCase):
    server_args = ("--listing",)

    @classmethod
    def prepare_root(cls, root):
        base = os.path.join(root, "list")
        os.mkdir(base)
        for i, name in enumerate(JSON_NAMES):
            write_file(os.path.join(base, name), b"x" * (i + 1))
        for name in ODD:
            write_file(os.path.join(os.fsencode(base), name), b"odd")
        os.mkdir(os.path.join(base, "zdir"))
        os.symlink("plain.txt", os.path.join(base, "link.txt"))
        write_file(os.path.join(base, ".hidden"), b"no")
        for n in os.listdir(base):
            set_mtime_ns(os.path.join(base, n), MTIME * 10**9, follow_symlinks=False)

    def listing(self, accept):
        r = fetch(self.port, "/list/", headers=[("Accept", accept)] if accept else [])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-length"), str(len(r.body)))
        self.assertIn("Accept", [v.strip() for v in r.header("vary").split(",")])
        return r

    def test_json_on_request(self):
        r = self.listing("application/json")
        self.assertEqual(r.header("content-type"), "application/json")
        doc = json.loads(r.body.decode("utf-8"))  # strict UTF-8: never invalid
        names = [e["name"] for e in doc]
        self.assertEqual(names, sorted(names, key=lambda n: n.encode("utf-8")))
        by_name = {e["name"]: e for e in doc}
        for i, name in enumerate(JSON_NAMES):
            e = by_name[name]
            self.assertEqual((e["type"], e["size"], e["symlink"]), ("file", i + 1, False))
            self.assertEqual(e["mtime"], "2021-03-04T05:06:07Z")
        self.assertEqual(by_name["zdir"]["type"], "dir")
        self.assertEqual(by_name["zdir"]["url"], "zdir/")
        self.assertTrue(by_name["link.txt"]["symlink"])
        self.assertEqual(by_name["new\nline.txt"]["url"], "new%0Aline.txt")
        self.assertIn("ctl\x01.txt", by_name)
        self.assertIn("latin1-\ufffd.txt", by_name)
        self.assertNotIn(".hidden", by_name)
        self.assertEqual(len(doc), len(JSON_NAMES) + len(ODD) + 2)
        # Every url fetches exactly its entry.
        for e in doc:
            if e["type"] == "file":
                got = fetch(self.port, urljoin("/list/", e["url"]))
                self.assertEqual((got.status, len(got.body)), (200, e["size"]), e)

    def test_q_values_decide(self):
        self.assertEqual(self.listing("text/html;q=0.9, application/json").header("content-type"),
                         "application/json")
        browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        for accept in (browser, None, "*/*", "text/html, application/json"):
            with self.subTest(accept=accept):
                self.assertEqual(self.listing(accept).header("content-type"),
                                 "text/html; charset=utf-8")


class HealthTest(ServerTestCase):
    server_args = ("--health", "/healthz", "--header", "X-Site: one")

    def test_health(self):
        r = fetch(self.port, "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok"))
        self.assertEqual(r.header("content-type"), "text/plain; charset=utf-8")
        self.assertEqual(r.header("cache-control"), "no-store")
        self.assertIsNone(r.header("etag"))
        self.assertEqual(r.header("x-site"), "one")
        r = fetch(self.port, "/healthz", method="HEAD")
        self.assertEqual((r.status, r.body, r.header("content-length")), (200, b"", "2"))

    @classmethod
    def prepare_root(cls, root):
        write_file(os.path.join(root, "healthz"), b"a file of that name\n")

    def test_not_from_disk(self):
        r = fetch(self.port, "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok"))

    def test_only_that_path(self):
        for path in ("/healthz2", "/Healthz", "/healthz/x"):
            with self.subTest(path=path):
                self.assertEqual(fetch(self.port, path).status, 404)
        self.assertEqual(fetch(self.port, "/healthz", method="POST").status, 405)


if __name__ == "__main__":
    unittest.main()
