"""The metrics page (issue 16): --metrics PATH serves the server's counters as
Prometheus text (version 0.0.4), or as OpenMetrics 1.0.0 when Accept prefers
application/openmetrics-text, to the clients --metrics-allow lets in (loopback by
default; others get 404, as if the path did not exist).

Every page is checked by a strict parser written here (parse_exposition), and by
`promtool check metrics` when Debian's prometheus package is installed. The suite
speaks through fetch, so it runs over HTTP/1.1, HTTPS, h2c and h2 alike
(tests/CMakeLists.txt): the responses are counted under the protocol they came by.
"""

import os
import re
import shutil
import subprocess
import time
import unittest

from wshelper import (H2, SLOW, TLS, ServerTestCase, assert_refused_at_start, fetch, run_webserver,
                      wait_until, write_file)

PROMTOOL = shutil.which("promtool")
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# What Prometheus 2.x sends when it scrapes.
SCRAPE_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                 "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROTOCOL = "h2" if H2 else "http1"
OTHER_PROTOCOL = "http1" if H2 else "h2"

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
SAMPLE_RE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)\Z")
VALUE_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z|[-+]?Inf\Z|NaN\Z")


class ExpositionError(AssertionError):
    pass


def parse_labels(text, where):
    """'a="x",b="y\\"z"' -> {"a": "x", "b": 'y"z'}; strict about quoting and escapes."""
    labels = {}
    i = 0
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0:
            raise ExpositionError("%s: label without '='" % where)
        name = text[i:eq]
        if not LABEL_NAME_RE.match(name) or name.startswith("__"):
            raise ExpositionError("%s: bad label name %r" % (where, name))
        if eq + 1 >= len(text) or text[eq + 1] != '"':
            raise ExpositionError("%s: label value not quoted" % where)
        j = eq + 2
        value = []
        while True:
            if j >= len(text):
                raise ExpositionError("%s: unterminated label value" % where)
            c = text[j]
            if c == "\\":
                esc = text[j + 1:j + 2]
                if esc not in ("\\", '"', "n"):
                    raise ExpositionError("%s: bad escape \\%s" % (where, esc))
                value.append("\n" if esc == "n" else esc)
                j += 2
            elif c == '"':
                j += 1
                break
            elif c == "\n":
                raise ExpositionError("%s: raw newline in a label value" % where)
            else:
                value.append(c)
                j += 1
        if name in labels:
            raise ExpositionError("%s: label %s twice" % (where, name))
        labels[name] = "".join(value)
        if j < len(text):
            if text[j] != ",":
                raise ExpositionError("%s: expected ',' between labels" % where)
            j += 1
            if j == len(text):
                raise ExpositionError("%s: trailing ','" % where)
        i = j
    return labels


def parse_exposition(text, openmetrics=False):
    """Parses a whole page strictly; returns {(name, frozenset(labels.items())): value}
    and {family: type}. Every family has HELP and TYPE, once each, before its samples,
    and its samples are contiguous; counter samples end in _total (and, in Prometheus
    text, so does the family's name); no series appears twice; the page ends with a
    newline, and in OpenMetrics with '# EOF'."""
    if not text.endswith("\n"):
        raise ExpositionError("the page does not end with a newline")
    lines = text[:-1].split("\n")
    if openmetrics:
        if lines[-1] != "# EOF":
            raise ExpositionError("OpenMetrics page without '# EOF' at the end")
        lines = lines[:-1]
    elif "# EOF" in lines:
        raise ExpositionError("'# EOF' in Prometheus text")
    series, types, helps, closed = {}, {}, {}, set()
    current = None
    for n, line in enumerate(lines, 1):
        where = "line %d %r" % (n, line)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 4 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE"):
                raise ExpositionError("%s: only HELP and TYPE comments are expected" % where)
            family = parts[2]
            if not NAME_RE.match(family):
                raise ExpositionError("%s: bad metric name" % where)
            if family != current:
                if family in closed or family in types or family in helps:
                    raise ExpositionError("%s: family %s reopened" % (where, family))
                if current is not None:
                    closed.add(current)
                current = family
            table = helps if parts[1] == "HELP" else types
            if family in table:
                raise ExpositionError("%s: second %s" % (where, parts[1]))
            if parts[1] == "TYPE":
                if parts[3] not in ("counter", "gauge"):
                    raise ExpositionError("%s: unexpected type" % where)
                if parts[3] == "counter" and openmetrics == family.endswith("_total"):
                    raise ExpositionError("%s: counter family name and _total" % where)
            elif not parts[3].strip():
                raise ExpositionError("%s: empty HELP" % where)
            table[family] = parts[3]
            continue
        m = SAMPLE_RE.match(line)
        if m is None:
            raise ExpositionError("%s: not a sample line" % where)
        name, labels, value = m.group(1), parse_labels(m.group(2) or "", where), m.group(3)
        if current is None or current not in types or current not in helps:
            raise ExpositionError("%s: sample before its family's HELP and TYPE" % where)
        kind = types[current]
        want = current + "_total" if kind == "counter" and openmetrics else current
        if name != want:
            raise ExpositionError("%s: sample %s outside its family %s" % (where, name, current))
        if kind == "counter" and not name.endswith("_total"):
            raise ExpositionError("%s: counter without _total" % where)
        if not VALUE_RE.match(value):
            raise ExpositionError("%s: bad value" % where)
        key = (name, frozenset(labels.items()))
        if key in series:
            raise ExpositionError("%s: duplicate series" % where)
        series[key] = float(value)
    for family in types:
        if not any(k[0] in (family, family + "_total") for k in series):
            raise ExpositionError("family %s has no sample" % family)
    return series, types


class ParserSelfTest(unittest.TestCase):
    """The parser refuses what it must, or the other tests prove nothing."""

    GOOD = ('# HELP webserver_a_total A.\n# TYPE webserver_a_total counter\n'
            'webserver_a_total{x="q\\"\\\\\\n"} 1\n')

    def test_good(self):
        series, _ = parse_exposition(self.GOOD)
        self.assertEqual(series[("webserver_a_total", frozenset({("x", 'q"\\\n')}))], 1.0)

    def test_bad(self):
        cases = [
            "webserver_a_total 1\n",
            "# TYPE webserver_a_total counter\nwebserver_a_total 1\n",
            "# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n",
            "# HELP a A.\n# TYPE a counter\na 1\n",
            '# HELP a_total A.\n# TYPE a_total counter\na_total{x="a"b"} 1\n',
            '# HELP a_total A.\n# TYPE a_total counter\na_total{x="\\q"} 1\n',
            "# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n",
            "# HELP a A.\n# TYPE a gauge\na one\n",
            "# HELP a A.\n# TYPE a gauge\na 1",
            "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\na 2\n",
        ]
        for text in cases:
            with self.subTest(text=text):
                with self.assertRaises(ExpositionError):
                    parse_exposition(text)
        with self.assertRaises(ExpositionError):
            parse_exposition(self.GOOD, openmetrics=True)


def value(series, name, **labels):
    return series[(name, frozenset(labels.items()))]


class MetricsTest(ServerTestCase):
    server_args = ("--metrics", "/metrics", "--threads", "2")

    @classmethod
    def prepare_root(cls, root):
        write_file(os.path.join(root, "metrics"), b"a file of that name\n")
        write_file(os.path.join(root, "small.txt"), b"small\n")

    def scrape(self, accept=None):
        headers = [("Accept", accept)] if accept is not None else []
        r = fetch(self.port, "/metrics", headers=headers)
        self.assertEqual(r.status, 200)
        openmetrics = r.header("content-type") == OPENMETRICS_TYPE
        series, types = parse_exposition(r.body.decode("utf-8"), openmetrics)
        return r, series, types

    def settle(self):
        """Lets the counting of responses already read by the client finish (a worker
        counts a response just after its last byte went out)."""
        time.sleep(0.1 * SLOW)

    def test_prometheus_text(self):
        r, series, types = self.scrape()
        self.assertEqual(r.header("content-type"), PROMETHEUS_TYPE)
        self.assertEqual(r.header("cache-control"), "no-store")
        self.assertIn("Accept", r.header("vary") or "")
        self.assertIsNone(r.header("etag"))
        self.assertNotIn(b"a file of that name", r.body)
        for name in ("webserver_connections_open", "webserver_connections_parked",
                     "webserver_connections_queued", "webserver_workers_busy",
                     "webserver_queue_high_water", "webserver_connections_refused_total",
                     "webserver_file_cache_hits_total", "webserver_file_cache_misses_total",
                     "webserver_compress_cache_hits_total", "webserver_http_responses_total",
                     "webserver_http_response_body_bytes_total",
                     "webserver_connections_closed_early_total", "webserver_h2_streams_total"):
            with self.subTest(name=name):
                self.assertIn(name, types)
        self.assertEqual(types["webserver_connections_open"], "gauge")
        self.assertEqual(types["webserver_http_responses_total"], "counter")
        self.assertGreaterEqual(value(series, "webserver_connections_open"), 1)
        self.assertGreaterEqual(value(series, "webserver_workers_busy"), 1)
        self.assertEqual(value(series, "webserver_connections_closed_early_total", reason="idle"),
                         value(series, "webserver_connections_closed_early_total", reason="idle"))
        if TLS:
            self.assertGreaterEqual(value(series, "webserver_tls_handshakes_total"), 1)
        else:
            self.assertNotIn("webserver_tls_handshakes_total", types)

    @unittest.skipUnless(PROMTOOL, "promtool (Debian's prometheus) is not installed")
    def test_promtool_accepts_it(self):
        r = fetch(self.port, "/metrics")
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=r.body, capture_output=True,
                               timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual((check.stdout + check.stderr).strip(), b"")

    def test_openmetrics_when_accept_prefers_it(self):
        r, series, types = self.scrape(SCRAPE_ACCEPT)
        self.assertEqual(r.header("content-type"), OPENMETRICS_TYPE)
        self.assertTrue(r.body.endswith(b"\n# EOF\n"))
        self.assertEqual(types["webserver_http_responses"], "counter")
        self.assertIn(("webserver_http_responses_total",
                       frozenset({("protocol", PROTOCOL), ("class", "2xx")})), series)
        for accept in ("*/*", "text/plain", "text/plain;version=0.0.4,*/*;q=0.1",
                       "application/openmetrics-text;q=0.1,text/plain"):
            with self.subTest(accept=accept):
                r, _, _ = self.scrape(accept)
                self.assertEqual(r.header("content-type"), PROMETHEUS_TYPE)
                self.assertNotIn(b"# EOF", r.body)

    def test_counters_move_with_requests(self):
        self.settle()
        first, before, _ = self.scrape()
        responses = [fetch(self.port, "/HelloWorld.html"), fetch(self.port, "/missing.html"),
                     fetch(self.port, "/small.txt")]
        self.assertEqual([r.status for r in responses], [200, 404, 200])
        scrapes = [first]

        def counted():
            r, after, _ = self.scrape()

            def grew(cls, protocol=PROTOCOL):
                return (value(after, "webserver_http_responses_total", protocol=protocol, **{"class": cls})
                        - value(before, "webserver_http_responses_total", protocol=protocol,
                                **{"class": cls}))
            # Each earlier scrape is a 2xx of its own; this one is counted after it is sent.
            want = (2 + len(scrapes), 1)
            body = sum(len(x.body) for x in responses + scrapes)
            got = (grew("2xx"), grew("4xx"))
            moved = (value(after, "webserver_http_response_body_bytes_total", protocol=PROTOCOL)
                     - value(before, "webserver_http_response_body_bytes_total", protocol=PROTOCOL))
            scrapes.append(r)
            self.assertTrue(got[0] <= want[0] and got[1] <= want[1], (got, want))  # never more
            self.assertEqual([grew(c) for c in ("1xx", "3xx", "5xx")], [0, 0, 0])
            self.assertEqual([grew(c, OTHER_PROTOCOL) for c in ("1xx", "2xx", "3xx", "4xx", "5xx")],
                             [0] * 5)
            return got == want and moved == body

        self.assertTrue(wait_until(counted, 5 * SLOW))

    def test_file_cache_hits_move(self):
        self.settle()
        _, before, _ = self.scrape()
        for _ in range(6):
            self.assertEqual(fetch(self.port, "/small.txt").status, 200)
        self.settle()
        _, after, _ = self.scrape()

        def grew(k):
            return (value(after, "webserver_file_cache_%s_total" % k)
                    - value(before, "webserver_file_cache_%s_total" % k))
        self.assertGreaterEqual(grew("hits") + grew("misses"), 6)
        # Each of the two workers keeps its own cache: past its first miss, hits.
        self.assertGreaterEqual(grew("hits"), 4)

    def test_head(self):
        r = fetch(self.port, "/metrics", method="HEAD")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertEqual(r.header("content-type"), PROMETHEUS_TYPE)
        self.assertGreater(int(r.header("content-length")), 500)

    def test_only_that_path(self):
        for path in ("/metrics2", "/Metrics", "/metrics/x"):
            with self.subTest(path=path):
                self.assertEqual(fetch(self.port, path).status, 404)
        r = fetch(self.port, "/metrics?x=1")
        self.assertEqual(r.status, 200)
        self.assertIn(b"webserver_http_responses_total", r.body)
        self.assertEqual(fetch(self.port, "/metrics", method="POST").status, 405)


class RefusedTest(ServerTestCase):
    """--metrics-allow replaces the loopback default: the tests' loopback client is out."""

    server_args = ("--metrics", "/metrics", "--metrics-allow", "10.0.0.0/8",
                   "--metrics-allow", "fd00::/8")

    def test_loopback_refused(self):
        for method in ("GET", "HEAD"):
            with self.subTest(method=method):
                r = fetch(self.port, "/metrics", method=method)
                self.assertEqual(r.status, 404)
                self.assertNotIn(b"webserver_", r.body)
                self.assertNotEqual(r.header("content-type"), PROMETHEUS_TYPE)

    def test_forwarded_for_is_not_trusted_without_trusted_proxy(self):
        r = fetch(self.port, "/metrics", headers=[("X-Forwarded-For", "10.1.2.3")])
        self.assertEqual(r.status, 404)


class TrustedProxyTest(ServerTestCase):
    """Behind a --trusted-proxy the client is X-Forwarded-For's, as in the access log: a
    proxy on loopback does not open the metrics to everyone it forwards."""

    server_args = ("--metrics", "/metrics", "--trusted-proxy", "127.0.0.0/8",
                   "--trusted-proxy", "::1")

    def test_forwarded_client_decides(self):
        cases = [([], 200), ([("X-Forwarded-For", "203.0.113.9")], 404),
                 ([("X-Forwarded-For", "127.0.0.1")], 200),
                 ([("X-Forwarded-For", "127.0.0.1, 203.0.113.9")], 404)]
        for headers, status in cases:
            with self.subTest(headers=headers):
                self.assertEqual(fetch(self.port, "/metrics", headers=headers).status, status)


class BadFlagsTest(unittest.TestCase):
    def refused(self, args, words):
        assert_refused_at_start(self, args, words)

    def test_bad_values_refused_at_start(self):
        cases = [
            (["--metrics", "metrics"], ["--metrics", "absolute path"]),
            (["--metrics", "/m etrics"], ["--metrics", "no space"]),
            (["--metrics", "/metrics?x"], ["--metrics"]),
            (["--health", "/x", "--metrics", "/x"], ["--metrics", "different paths"]),
            (["--metrics", "/x", "--health", "/x"], ["--health", "different paths"]),
            (["--metrics-allow", "10.0.0.0/33"], ["--metrics-allow", "10.0.0.0/8"]),
            (["--metrics-allow", "localhost"], ["--metrics-allow"]),
            (["--metrics-allow", ""], ["--metrics-allow"]),
            (["--metrics-allow", "unix"], ["--metrics-allow"]),
            (["--metrics"], ["needs a value"]),
            (["--metrics-allow=10.0.0.0/8"] * 17, ["--metrics-allow", "too many"]),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                self.refused(args, words)

    def test_help_names_every_flag(self):
        r = run_webserver(["--help"])
        self.assertEqual(r.returncode, 0)
        for flag in (b"--metrics=PATH", b"--metrics-allow=ADDR"):
            self.assertIn(flag, r.stdout)


if __name__ == "__main__":
    unittest.main()
