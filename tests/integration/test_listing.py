"""Directory listings (--listing): off by default; when on, sorted (directories
first), with sizes and dates, names HTML-escaped, and every href percent-encoded so
that following it from the page fetches exactly the entry it names. Hidden names and
symlinks out of the root are left out.

The page is read with html.parser, as a browser would read it, and every link on it
is followed over a real socket.
"""

import os
import re
import shutil
import tempfile
import unittest
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from wshelper import ServerTestCase, fetch, set_mtime_ns, write_file

MTIME = 1614834367  # 2021-03-04 05:06:07 UTC
MTIME_NS = MTIME * 10**9

# Names chosen to break a listing that escapes or encodes wrongly.
FILES = {
    "a<b>&\"c'.txt": b"markup characters\n",
    "space name.txt": b"a space\n",
    "%41.txt": b"a percent sign, not an A\n",
    "A.txt": b"the real A\n",
    "\u00fcn\u00efc\u00f8d\u00e9-\u6587\u5b57.txt": "UTF-8 name \u2713\n".encode(),
    "q?x#y.txt": b"query and fragment characters\n",
    "c:d.txt": b"a colon: must not become a URL scheme\n",
    "back\\slash.txt": b"a backslash\n",
    "plus+semi;eq=.txt": b"sub-delims\n",
    "b.txt": b"x" * 1234,
    "zero.txt": b"",
}
DIRS = ["adir", "zdir", "d&<x>"]
BIG_NAME, BIG_SIZE = "big.dat", 3 * 1024 * 1024 + 500000


# File names as bytes that no HTML text can show as they are.
ODD_NAMES = [b"new\nline.txt", b"t\tab.txt", b"del\x7f.txt", b"latin1-\xe9.txt", b"cr\rx.txt"]


class ListingPage(HTMLParser):
    """Collects the table rows of a listing: each a list of cells, each {"text", "hrefs"}."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self.row, self.cell = [], None, None
        self.text = []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.row = []
            self.rows.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.cell = {"text": "", "hrefs": [], "tag": tag}
            self.row.append(self.cell)
        elif tag == "a" and self.cell is not None:
            self.cell["hrefs"].append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.cell = None
        elif tag == "tr":
            self.row = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell["text"] += data


def parse_listing(body, errors="strict"):
    page = ListingPage()
    page.feed(body.decode("utf-8", errors))
    page.close()
    entries = []
    for row in page.rows:
        if not row or row[0]["tag"] == "th" or not row[0]["hrefs"]:
            continue
        href = row[0]["hrefs"][0]
        if href == "../":
            continue
        entries.append({"name": row[0]["text"].strip(), "href": href,
                        "cells": [c["text"].strip() for c in row]})
    return entries, "".join(page.text)


_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1 << 20, "mb": 10**6, "mib": 1 << 20,
          "g": 1 << 30, "gb": 10**9, "gib": 1 << 30}


def size_matches(text, size):
    """Whether a size cell ("1234", "1234 B", "1.2 KiB", "3.5M"...) says size, within rounding."""
    m = re.match(r"^([\d.,]+)\s*([a-zA-Z]*)$", text)
    if not m or m.group(2).lower() not in _UNITS:
        return False
    value = float(m.group(1).replace(",", "")) * _UNITS[m.group(2).lower()]
    return abs(value - size) <= max(size * 0.05, 0.5)


def date_matches(text):
    """Whether a date cell shows 2021-03-04 05:06 (UTC) in some common form."""
    return "2021" in text and "05:06" in text and ("03-04" in text or "Mar" in text or "03/04" in text)


def expected_order(names_dirs):
    """Directories first, then files, each in byte order of the UTF-8 name."""
    return sorted(names_dirs, key=lambda nd: (not nd[1], nd[0].encode()))


class NoListingByDefaultTest(ServerTestCase):
    def test_directory_without_index_is_403(self):
        for path in ("/noindex/", "/noindex/?x"):
            with self.subTest(path=path):
                r = fetch(self.port, path)
                self.assertEqual(r.status, 403)
                self.assertNotIn(b"file.txt", r.body)
        self.assertEqual(fetch(self.port, "/noindex/file.txt").status, 200)

    def test_directory_with_index_serves_it(self):
        r = fetch(self.port, "/sub/")
        self.assertEqual((r.status, r.body), (200, self.file_bytes("sub/index.html")))


class ListingTest(ServerTestCase):
    server_args = ("--listing",)

    @classmethod
    def prepare_root(cls, root):
        base = os.path.join(root, "list")
        os.mkdir(base)
        for name, data in FILES.items():
            write_file(os.path.join(base, name), data)
        with open(os.path.join(base, BIG_NAME), "wb") as f:
            f.truncate(BIG_SIZE)
        for d in DIRS:
            os.mkdir(os.path.join(base, d))
            write_file(os.path.join(base, d, "inner.txt"), ("inside %s\n" % d).encode())
        write_file(os.path.join(base, ".hidden"), b"a dotfile\n")
        os.mkdir(os.path.join(base, ".hiddendir"))
        os.symlink("b.txt", os.path.join(base, "inlink.txt"))
        cls.outside = tempfile.mkdtemp(prefix="ws-outside-")
        cls.addClassCleanup(shutil.rmtree, cls.outside, True)
        write_file(os.path.join(cls.outside, "secret.txt"), b"outside the root\n")
        os.symlink(os.path.join(cls.outside, "secret.txt"), os.path.join(base, "escape.txt"))
        os.symlink(cls.outside, os.path.join(base, "escdir"))
        os.symlink("../../..", os.path.join(base, "up"))
        # Names that are not printable UTF-8: control characters and a Latin-1 byte.
        odd = os.path.join(root, "odd")
        os.mkdir(odd)
        for i, name in enumerate(ODD_NAMES):
            write_file(os.path.join(os.fsencode(odd), name), b"odd file %d\n" % i)
        # A directory too long for one buffer-full of listing.
        many = os.path.join(root, "many")
        os.mkdir(many)
        for i in range(600):
            write_file(os.path.join(many, "file-%04d-with-a-longish-name.txt" % i), b"%d\n" % i)
        for dirpath, dirnames, filenames in os.walk(base):
            for n in dirnames + filenames:
                set_mtime_ns(os.path.join(dirpath, n), MTIME_NS, follow_symlinks=False)

    def expected_entries(self):
        """(name, is_dir) of what /list/ should show."""
        entries = [(n, False) for n in FILES] + [(BIG_NAME, False), ("inlink.txt", False)]
        return entries + [(d, True) for d in DIRS]

    def listing(self, path):
        r = fetch(self.port, path)
        self.assertEqual(r.status, 200, path)
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("content-length"), str(len(r.body)))
        return r

    def test_listing_shows_every_entry_sorted_directories_first(self):
        entries, _ = parse_listing(self.listing("/list/").body)
        expected = [n + "/" if is_dir else n for n, is_dir in expected_order(self.expected_entries())]
        self.assertEqual([e["name"] for e in entries], expected)

    def test_sizes_and_dates(self):
        entries, _ = parse_listing(self.listing("/list/").body)
        sizes = {n: len(d) for n, d in FILES.items()}
        sizes[BIG_NAME] = BIG_SIZE
        sizes["inlink.txt"] = len(FILES["b.txt"])
        for e in entries:
            with self.subTest(name=e["name"]):
                self.assertEqual(len(e["cells"]), 3, e)
                _, size_cell, date_cell = e["cells"]
                if not e["name"].endswith("/"):
                    self.assertTrue(size_matches(size_cell, sizes[e["name"]]),
                                    "size %r for %d bytes" % (size_cell, sizes[e["name"]]))
                self.assertTrue(date_matches(date_cell), "date %r" % date_cell)

    def test_names_are_html_escaped(self):
        body = self.listing("/list/").body
        self.assertNotIn(b"a<b>", body)
        self.assertIn(b"a&lt;b&gt;&amp;", body)
        self.assertNotIn(b"<x>", body)
        self.assertIn("\u6587\u5b57".encode(), body)  # UTF-8 text stays readable
        sub = self.listing("/list/d%26%3Cx%3E/")
        self.assertNotIn(b"d&<x>", sub.body)
        entries, text = parse_listing(sub.body)
        self.assertIn("/list/d&<x>/", text)
        self.assertEqual([e["name"] for e in entries], ["inner.txt"])

    def test_every_href_fetches_exactly_its_entry(self):
        entries, _ = parse_listing(self.listing("/list/").body)
        self.assertEqual(len(entries), len(self.expected_entries()))
        for e in entries:
            with self.subTest(name=e["name"], href=e["href"]):
                href = e["href"]
                parts = urlsplit(href)
                # Relative and harmless: no scheme, no host, no query or fragment, plain ASCII.
                self.assertEqual((parts.scheme, parts.netloc, parts.query, parts.fragment), ("", "", "", ""))
                self.assertFalse(href.startswith("/"))
                self.assertRegex(href, r"^[\x21-\x7e]+$")
                target = urljoin("/list/", href)
                self.assertTrue(target.startswith("/list/"), target)
                r = fetch(self.port, target)
                self.assertEqual(r.status, 200, target)
                name = e["name"]
                if name.endswith("/"):
                    inner, _ = parse_listing(r.body)
                    self.assertEqual([i["name"] for i in inner], ["inner.txt"])
                    r = fetch(self.port, urljoin(target, inner[0]["href"]))
                    self.assertEqual(r.body, ("inside %s\n" % name[:-1]).encode())
                elif name == BIG_NAME:
                    self.assertEqual(r.header("content-length"), str(BIG_SIZE))
                else:
                    expected = FILES["b.txt" if name == "inlink.txt" else name]
                    self.assertEqual(r.body, expected)

    def test_odd_byte_names_still_link_to_their_files(self):
        r = self.listing("/odd/")
        self.assertNotIn(b"\t", r.body.replace(b"\n", b""))  # no raw control bytes in text
        self.assertNotIn(b"\r", r.body)
        self.assertNotIn(b"\x7f", r.body)
        entries, _ = parse_listing(r.body, errors="replace")
        self.assertEqual(len(entries), len(ODD_NAMES))
        got = set()
        for e in entries:
            with self.subTest(href=e["href"]):
                self.assertRegex(e["href"], r"^[\x21-\x7e]+$")
                f = fetch(self.port, urljoin("/odd/", e["href"]))
                self.assertEqual(f.status, 200)
                got.add(f.body)
        self.assertEqual(got, {b"odd file %d\n" % i for i in range(len(ODD_NAMES))})

    def test_hidden_entries_are_not_listed_or_served(self):
        body = self.listing("/list/").body
        self.assertNotIn(b".hidden", body)
        self.assertEqual(fetch(self.port, "/list/.hidden").status, 404)
        self.assertEqual(fetch(self.port, "/list/.hiddendir/").status, 404)

    def test_symlinks_out_of_the_root_are_not_listed(self):
        body = self.listing("/list/").body
        entries, _ = parse_listing(body)
        names = [e["name"] for e in entries]
        for name in ("escape.txt", "escdir/", "escdir", "up/", "up"):
            self.assertNotIn(name, names)
        self.assertNotIn(b"escape", body)
        self.assertNotIn(b"escdir", body)
        self.assertEqual(fetch(self.port, "/list/escape.txt").status, 404)
        self.assertEqual(fetch(self.port, "/list/escdir/").status, 404)

    def test_head_matches_get(self):
        get = self.listing("/list/")
        head = fetch(self.port, "/list/", method="HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.header("content-length"), str(len(get.body)))
        self.assertEqual(head.body, b"")

    def test_preconditions_apply_to_listings(self):
        # A listing is a current representation (with no entity tag): If-Match with a
        # tag cannot match it (RFC 9110 §13.1.1), If-None-Match: * does (§13.1.2).
        # nginx's autoindex answers the same.
        r = fetch(self.port, "/list/", headers=[("If-Match", '"nope"')])
        self.assertEqual(r.status, 412)
        r = fetch(self.port, "/list/", headers=[("If-None-Match", "*")])
        self.assertEqual(r.status, 304)
        self.assertEqual(r.body, b"")
        for headers in ([("If-Match", "*")], [("If-None-Match", '"nope"')]):
            with self.subTest(headers=headers):
                r = fetch(self.port, "/list/", headers=headers)
                self.assertEqual(r.status, 200)
                self.assertIn(b"b.txt", r.body)

    def test_directory_without_slash_redirects(self):
        r = fetch(self.port, "/list")
        self.assertEqual((r.status, r.header("location")), (301, "/list/"))

    def test_index_html_still_wins(self):
        r = fetch(self.port, "/sub/")
        self.assertEqual((r.status, r.body), (200, self.file_bytes("sub/index.html")))

    def test_large_listing(self):
        r = self.listing("/many/")
        self.assertGreater(len(r.body), 32768)
        entries, _ = parse_listing(r.body)
        expected = ["file-%04d-with-a-longish-name.txt" % i for i in range(600)]
        self.assertEqual([e["name"] for e in entries], expected)
        r = fetch(self.port, urljoin("/many/", entries[-1]["href"]))
        self.assertEqual(r.body, b"599\n")


class ListingDotfilesAllowTest(ServerTestCase):
    server_args = ("--listing", "--dotfiles", "allow")

    @classmethod
    def prepare_root(cls, root):
        base = os.path.join(root, "list")
        os.mkdir(base)
        write_file(os.path.join(base, ".hidden"), b"a dotfile\n")
        os.mkdir(os.path.join(base, ".config"))
        write_file(os.path.join(base, ".config", "x"), b"x\n")
        write_file(os.path.join(base, "visible.txt"), b"visible\n")

    def test_dotfiles_listed_and_served(self):
        r = fetch(self.port, "/list/")
        self.assertEqual(r.status, 200)
        entries, _ = parse_listing(r.body)
        self.assertEqual([e["name"] for e in entries], [".config/", ".hidden", "visible.txt"])
        for e in entries:
            with self.subTest(name=e["name"]):
                self.assertEqual(fetch(self.port, urljoin("/list/", e["href"])).status, 200)
        self.assertEqual(fetch(self.port, "/list/.hidden").body, b"a dotfile\n")


if __name__ == "__main__":
    unittest.main()
