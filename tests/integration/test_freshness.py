"""A file changed on disk is never served stale: a request sent after a change to the
file system completed always sees the new state.

Small files (at most 16 KiB) are kept in a per-worker cache. An entry used to be
revalidated with a stat(2) on every request; now the cached file and every directory
on its path under the root are under inotify, any event moves an epoch on, and an
entry is served without a stat while the epoch has not moved (include/server/watch.h). The
path that skips the stat is the first request a worker reads from a keep-alive
connection that was idle: so every test here warms the cache on several keep-alive
connections (the server has 8 workers, each with its own cache), waits for each
response, changes the file system, and only then sends the next request on the same
connections, one at a time. The same is checked on a fresh connection and with
requests pipelined after the change.

Changes covered: an in-place rewrite keeping the size and the mtime to the nanosecond
(only the ctime tells), replacement by rename, unlink and re-creation, permissions on
the file, through a hard link and on a directory, a parent or grandparent directory
renamed away or swapped, a symlinked directory retargeted or its target moved (such
paths are never watched), a directory index, files at and past the cache's size limit,
many quick changes in a row, a change seen first by a new connection, changes to a
neighbour or through a hard link in an unwatched directory, a precompressed sibling
removed and restored, siblings renamed in and out (only a directory event tells), an
original made newer than its warm sibling, a directory index's sibling, and a writer racing readers (no response may show a state older
than the last change completed before its request was sent).

Before each change the old bytes are seen (so the cache is warm with them), and every
version differs from the one before it while keeping its size, so a stale answer cannot
pass. Any inotify event anywhere moves the one epoch on, so changes are made where only
the watches under test can see them (a directory no other test serves from, a hard
link in a directory never served). When run as root the server runs as nobody, so that
permission changes matter. Every test runs twice: with the default --revalidate=inotify
and with --revalidate=stat.
"""

import ctypes
import email.utils
import errno
import os
import threading
import time
import unittest

from wshelper import (
    SLOW,
    Reader,
    ServerTestCase,
    connect,
    fetch,
    raw_request,
    set_mtime_ns,
    write_file,
)

# 2021-03-04 05:06:07.123456789 UTC: every version is given this mtime, so only the
# ctime (and, after a rename, the inode) differs between versions.
MTIME_NS = 1614834367 * 10**9 + 123456789
NEWER_NS = MTIME_NS + 10 * 10**9
WORKERS = 8
CACHE_MAX = 16 * 1024  # the largest file the cache holds
WARM_REQUESTS = 20     # sequential requests per keep-alive connection to warm the cache
CONNECTIONS = 4        # keep-alive connections held open per test
PIPELINED = 5


def version(name, n, size=None):
    """Version n of a file's content: the same length for every n (below 10**6),
    padded to size bytes when given."""
    data = b"%s: version %06d of this file\n" % (name.encode(), n)
    if size is not None:
        data = (data * (size // len(data) + 1))[:size - 1] + b"\n"
    return data


def put(path, data, mtime_ns=MTIME_NS):
    """Writes a fresh file readable by all (the server may run as nobody)."""
    write_file(path, data, mode=0o644)
    if mtime_ns is not None:
        set_mtime_ns(path, mtime_ns)


def make_dir(path):
    os.mkdir(path)
    os.chmod(path, 0o755)


def rewrite_in_place(path, data, mtime_ns=MTIME_NS):
    """Overwrites the file's bytes in place (same inode, no truncation: the size never
    changes), then puts the mtime back to mtime_ns (None: leave it as the write set it)."""
    if os.path.getsize(path) != len(data):
        raise AssertionError("rewrite_in_place must keep the size of %s" % path)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)
    if mtime_ns is not None:
        set_mtime_ns(path, mtime_ns)


def replace_by_rename(path, data, mtime_ns=MTIME_NS):
    """Writes a new file next to path, same mtime, and renames it over path."""
    tmp = path + ".tmp-new"
    put(tmp, data, mtime_ns)
    os.rename(tmp, path)


def exchange(a, b):
    """Swaps two paths atomically (renameat2 RENAME_EXCHANGE). False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise OSError(err, os.strerror(err), a)
    return True


def show(body):
    return repr(body) if len(body) <= 80 else "%d bytes starting %r" % (len(body), body[:60])


class KeepAlive:
    """One keep-alive connection; get() sends one request and reads its whole response
    before returning, so nothing is pipelined unless pipelined() is called."""

    def __init__(self, port):
        self.sock = connect(port, timeout=10.0)
        self.reader = Reader(self.sock)

    def get(self, path, headers=()):
        self.sock.sendall(raw_request(path, headers=headers))
        return self._read(path, 1)[0]

    def pipelined(self, path, headers=(), n=PIPELINED):
        self.sock.sendall(b"".join(raw_request(path, headers=headers) for _ in range(n)))
        return self._read(path, n)

    def _read(self, path, n):
        rs = [self.reader.read_response() for _ in range(n)]
        if self.reader.buf:
            raise AssertionError("GET %s: %d bytes past the response: %r"
                                 % (path, len(self.reader.buf), self.reader.buf[:100]))
        return rs

    def close(self):
        self.sock.close()


class FreshnessTest(ServerTestCase):
    # Siblings coming and going are told apart from the file itself, not from a
    # coding made on the fly (test_compression.py checks that one's freshness).
    server_args = ("--threads", str(WORKERS), "--compress", "off")

    @classmethod
    def prepare_root(cls, root):
        # The root and make_root's files must be readable by nobody.
        for d, _, files in os.walk(root):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)

    @classmethod
    def server_kwargs(cls):
        # As root, open(2) ignores permission bits: run the server as nobody instead.
        return {"user": (65534, 65534)} if os.geteuid() == 0 else {}

    # --- helpers ---------------------------------------------------------------------

    def path(self, *rel):
        return os.path.join(self.root, *rel)

    def clients(self, n=CONNECTIONS):
        out = []
        for _ in range(n):
            c = KeepAlive(self.port)
            self.addCleanup(c.close)
            out.append(c)
        return out

    def check(self, r, url, status, body, coding, how, old):
        what = "GET %s on %s" % (url, how)
        got = "%d %s" % (r.status, show(r.body))
        self.assertEqual(r.status, status, "%s: expected %d %s, got %s"
                         % (what, status, show(body) if body is not None else "", got))
        if body is not None:
            self.assertTrue(r.body == body, "%s: expected %s, got %s%s"
                            % (what, show(body), got,
                               " (the OLD version: served stale)" if r.body in old else ""))
            self.assertEqual(r.header("content-length"), str(len(body)), what)
        for o in old:
            self.assertFalse(o and r.body == o, "%s: served stale, the old version %s" % (what, show(o)))
        self.assertEqual(r.header("content-encoding"), coding, what)

    def warm(self, conns, url, body, headers=(), coding=None):
        """WARM_REQUESTS sequential requests on each connection, and a few fresh
        connections: all must see body, so that many workers' caches hold it."""
        for i, c in enumerate(conns):
            for _ in range(WARM_REQUESTS):
                self.check(c.get(url, headers), url, 200, body, coding,
                           "warming keep-alive connection %d" % i, ())
        for _ in range(WORKERS):
            self.check(fetch(self.port, url, headers=headers), url, 200, body, coding,
                       "warming fresh connection", ())

    def expect(self, conns, url, status, body, old, headers=(), coding=None, step=""):
        """After a change: the next request on every warm keep-alive connection (sent
        one at a time), a fresh connection, pipelined requests on a fresh and on a warm
        connection, then once more on every connection. body None: any body but old."""
        how = lambda s: "%s (after: %s)" % (s, step)  # noqa: E731
        for i, c in enumerate(conns):
            self.check(c.get(url, headers), url, status, body, coding,
                       how("keep-alive connection %d, first request after the change" % i), old)
        self.check(fetch(self.port, url, headers=headers), url, status, body, coding,
                   how("a fresh connection"), old)
        fresh = KeepAlive(self.port)
        try:
            for j, r in enumerate(fresh.pipelined(url, headers)):
                self.check(r, url, status, body, coding, how("a fresh connection, pipelined #%d" % j), old)
        finally:
            fresh.close()
        if conns:
            for j, r in enumerate(conns[0].pipelined(url, headers)):
                self.check(r, url, status, body, coding,
                           how("keep-alive connection 0, pipelined #%d" % j), old)
        for i, c in enumerate(conns):
            self.check(c.get(url, headers), url, status, body, coding,
                       how("keep-alive connection %d, again" % i), old)

    def distinct(self, *versions):
        for a, b in zip(versions, versions[1:]):
            self.assertEqual(len(a), len(b))
            self.assertNotEqual(a, b)

    # --- the file itself -------------------------------------------------------------

    def test_in_place_rewrite_with_the_same_size_and_mtime_is_seen_at_once(self):
        path = self.path("inplace.txt")
        vs = [version("inplace", n) for n in range(4)]
        self.distinct(*vs)
        put(path, vs[0])
        conns = self.clients()
        self.warm(conns, "/inplace.txt", vs[0])
        for n in range(1, 4):
            # Same inode, same size, same mtime to the nanosecond: only the ctime moved.
            rewrite_in_place(path, vs[n])
            self.assertEqual(os.stat(path).st_mtime_ns, MTIME_NS)
            self.expect(conns, "/inplace.txt", 200, vs[n], [vs[n - 1]], step="in-place rewrite %d" % n)

    def test_in_place_rewrite_without_touching_the_mtime_afterwards_is_seen_at_once(self):
        # Only IN_MODIFY is raised (no utimes), and mtime and ctime move by the write alone.
        path = self.path("written.txt")
        vs = [version("written", n) for n in range(4)]
        self.distinct(*vs)
        put(path, vs[0])
        conns = self.clients()
        self.warm(conns, "/written.txt", vs[0])
        for n in range(1, 4):
            rewrite_in_place(path, vs[n], mtime_ns=None)
            self.expect(conns, "/written.txt", 200, vs[n], [vs[n - 1]], step="plain write %d" % n)

    def test_replacement_by_rename_is_seen_at_once(self):
        path = self.path("renamed.txt")
        vs = [version("renamed", n) for n in range(4)]
        self.distinct(*vs)
        put(path, vs[0])
        conns = self.clients()
        self.warm(conns, "/renamed.txt", vs[0])
        for n in range(1, 4):
            replace_by_rename(path, vs[n])
            self.expect(conns, "/renamed.txt", 200, vs[n], [vs[n - 1]], step="rename over it %d" % n)

    def test_unlinked_file_is_404_and_a_recreated_one_is_served(self):
        path = self.path("unlinked.txt")
        vs = [version("unlinked", n) for n in range(3)]
        self.distinct(*vs)
        put(path, vs[0])
        conns = self.clients()
        self.warm(conns, "/unlinked.txt", vs[0])
        for n in range(1, 3):
            os.unlink(path)
            self.expect(conns, "/unlinked.txt", 404, None, [vs[n - 1]], step="unlink %d" % n)
            put(path, vs[n])
            self.expect(conns, "/unlinked.txt", 200, vs[n], [vs[n - 1]], step="re-create %d" % n)

    def test_unreadable_file_or_directory_is_403_at_once(self):
        d = self.path("perm")
        make_dir(d)
        path = os.path.join(d, "f.txt")
        vs = [version("perm", n) for n in range(3)]
        self.distinct(*vs)
        put(path, vs[0])
        # Cleanups run last first: the directory is opened up before the file.
        self.addCleanup(os.chmod, path, 0o644)
        self.addCleanup(os.chmod, d, 0o755)
        conns = self.clients()
        self.warm(conns, "/perm/f.txt", vs[0])
        # The file: mode 000.
        os.chmod(path, 0o000)
        self.expect(conns, "/perm/f.txt", 403, None, [vs[0]], step="chmod 000 on the file")
        os.chmod(path, 0o644)
        self.expect(conns, "/perm/f.txt", 200, vs[0], [], step="chmod 644 on the file")
        rewrite_in_place(path, vs[1])
        self.expect(conns, "/perm/f.txt", 200, vs[1], [vs[0]], step="rewrite after the chmod")
        # Through a hard link in a directory that is never served (so not watched).
        make_dir(self.path("perm-elsewhere"))
        other = self.path("perm-elsewhere", "f-link.txt")
        os.link(path, other)
        # Those two changes moved the epoch on: let the caches find the file unchanged again.
        self.warm(conns, "/perm/f.txt", vs[1])
        os.chmod(other, 0o000)
        self.expect(conns, "/perm/f.txt", 403, None, [vs[1]], step="chmod 000 through a hard link")
        os.chmod(other, 0o644)
        self.expect(conns, "/perm/f.txt", 200, vs[1], [], step="chmod 644 through a hard link")
        # Its directory: no search permission.
        os.chmod(d, 0o000)
        self.expect(conns, "/perm/f.txt", 403, None, [vs[1]], step="chmod 000 on the directory")
        os.chmod(d, 0o755)
        self.expect(conns, "/perm/f.txt", 200, vs[1], [], step="chmod 755 on the directory")

    # --- directories on the path -----------------------------------------------------

    def test_parent_directory_renamed_away_and_recreated_is_seen_at_once(self):
        vs = [version("parent", n) for n in range(3)]
        self.distinct(*vs)
        make_dir(self.path("p"))
        put(self.path("p", "f.txt"), vs[0])
        conns = self.clients()
        self.warm(conns, "/p/f.txt", vs[0])
        for n in range(1, 3):
            os.rename(self.path("p"), self.path("p.old%d" % n))
            make_dir(self.path("p"))
            put(self.path("p", "f.txt"), vs[n])
            self.expect(conns, "/p/f.txt", 200, vs[n], [vs[n - 1]], step="parent renamed and recreated %d" % n)
            # The old file is still served under the directory's new name.
            self.check(fetch(self.port, "/p.old%d/f.txt" % n), "/p.old%d/f.txt" % n, 200, vs[n - 1], None,
                       "a fresh connection", [])

    def test_grandparent_directory_renamed_away_and_recreated_is_seen_at_once(self):
        # All under gp/, a directory no other test serves from: the changes below raise
        # events only in gp/ and in gp/a/, which nothing but this file's watches cover.
        vs = [version("grand", n) for n in range(4)]
        self.distinct(*vs)
        url = "/gp/a/b/c.txt"
        make_dir(self.path("gp"))

        def tree(top, data):
            make_dir(self.path("gp", top))
            make_dir(self.path("gp", top, "b"))
            put(self.path("gp", top, "b", "c.txt"), data)

        tree("a", vs[0])
        conns = self.clients()
        self.warm(conns, url, vs[0])
        # Renamed away, then the same path built again.
        os.rename(self.path("gp", "a"), self.path("gp", "a.old"))
        tree("a", vs[1])
        self.expect(conns, url, 200, vs[1], [vs[0]], step="grandparent renamed, tree rebuilt")
        # Renamed away, nothing in its place.
        os.rename(self.path("gp", "a"), self.path("gp", "a.gone"))
        self.expect(conns, url, 404, None, [vs[1]], step="grandparent renamed away")
        # A tree prepared elsewhere renamed into place.
        tree("a.new", vs[2])
        os.rename(self.path("gp", "a.new"), self.path("gp", "a"))
        self.expect(conns, url, 200, vs[2], [vs[1]], step="a prepared tree renamed into place")
        # The middle directory renamed away and rebuilt.
        os.rename(self.path("gp", "a", "b"), self.path("gp", "a", "b.old"))
        make_dir(self.path("gp", "a", "b"))
        put(self.path("gp", "a", "b", "c.txt"), vs[3])
        self.expect(conns, url, 200, vs[3], [vs[2]], step="parent of the file renamed, rebuilt")

    def test_directories_swapped_atomically_are_seen_at_once(self):
        vs = [version("swap", n) for n in range(2)]
        self.distinct(*vs)
        for name, data in (("live", vs[0]), ("staged", vs[1])):
            make_dir(self.path(name))
            put(self.path(name, "f.txt"), data)
        conns = self.clients()
        self.warm(conns, "/live/f.txt", vs[0])
        self.warm(conns[:1], "/staged/f.txt", vs[1])
        if not exchange(self.path("live"), self.path("staged")):
            self.skipTest("renameat2(RENAME_EXCHANGE) is not supported here")
        self.expect(conns, "/live/f.txt", 200, vs[1], [vs[0]], step="live and staged exchanged")
        self.expect(conns, "/staged/f.txt", 200, vs[0], [vs[1]], step="live and staged exchanged")
        self.assertTrue(exchange(self.path("live"), self.path("staged")))
        self.expect(conns, "/live/f.txt", 200, vs[0], [vs[1]], step="exchanged back")
        self.expect(conns, "/staged/f.txt", 200, vs[1], [vs[0]], step="exchanged back")

    def test_symlinked_directory_follows_its_target(self):
        vs = [version("symlink", n) for n in range(5)]
        self.distinct(*vs)
        make_dir(self.path("real"))
        make_dir(self.path("real2"))
        put(self.path("real", "f.txt"), vs[0])
        put(self.path("real2", "f.txt"), vs[2])
        os.symlink("real", self.path("link"))
        os.symlink(os.path.join("real", "f.txt"), self.path("flink.txt"))
        conns = self.clients()
        self.warm(conns, "/link/f.txt", vs[0])
        self.warm(conns, "/flink.txt", vs[0])
        # The target rewritten in place, through the symlinked directory and a symlinked file.
        rewrite_in_place(self.path("real", "f.txt"), vs[1])
        self.expect(conns, "/link/f.txt", 200, vs[1], [vs[0]], step="real/f.txt rewritten in place")
        self.expect(conns, "/flink.txt", 200, vs[1], [vs[0]], step="real/f.txt rewritten in place")
        # The symlink retargeted (a new symlink renamed over it).
        os.symlink("real2", self.path("link.new"))
        os.replace(self.path("link.new"), self.path("link"))
        self.expect(conns, "/link/f.txt", 200, vs[2], [vs[1]], step="link retargeted to real2")
        # The new target rewritten in place; the old one no longer matters.
        rewrite_in_place(self.path("real2", "f.txt"), vs[3])
        self.expect(conns, "/link/f.txt", 200, vs[3], [vs[2]], step="real2/f.txt rewritten in place")
        rewrite_in_place(self.path("real", "f.txt"), vs[4])
        self.expect(conns, "/link/f.txt", 200, vs[3], [vs[4]], step="the old target rewritten")
        self.expect(conns, "/flink.txt", 200, vs[4], [vs[1]], step="the old target rewritten")

    def test_symlink_whose_target_moves_under_it_follows_the_new_target(self):
        # dlink -> s/deep/t. Renaming s/deep raises events only in s and deep, neither of
        # which is on the requested path: only a stat of the path can tell.
        vs = [version("deeplink", n) for n in range(3)]
        self.distinct(*vs)

        def tree(top, data):
            make_dir(top)
            make_dir(os.path.join(top, "t"))
            put(os.path.join(top, "t", "f.txt"), data)

        make_dir(self.path("s"))
        tree(self.path("s", "deep"), vs[0])
        os.symlink(os.path.join("s", "deep", "t"), self.path("dlink"))
        conns = self.clients()
        self.warm(conns, "/dlink/f.txt", vs[0])
        for n in range(1, 3):
            os.rename(self.path("s", "deep"), self.path("s", "deep.old%d" % n))
            tree(self.path("s", "deep"), vs[n])
            self.expect(conns, "/dlink/f.txt", 200, vs[n], [vs[n - 1]],
                        step="the symlink's target directory's parent renamed and rebuilt %d" % n)

    # --- what is served ------------------------------------------------------------------

    def test_directory_index_is_seen_at_once(self):
        vs = [version("index", n) for n in range(4)]
        self.distinct(*vs)
        make_dir(self.path("idx"))
        index = self.path("idx", "index.html")
        put(index, vs[0])
        conns = self.clients()
        self.warm(conns, "/idx/", vs[0])
        rewrite_in_place(index, vs[1])
        self.expect(conns, "/idx/", 200, vs[1], [vs[0]], step="index.html rewritten in place")
        self.expect(conns, "/idx/index.html", 200, vs[1], [vs[0]], step="index.html rewritten in place")
        replace_by_rename(index, vs[2])
        self.expect(conns, "/idx/", 200, vs[2], [vs[1]], step="index.html replaced by rename")
        # Without an index (and without --listing) the directory is refused.
        os.unlink(index)
        self.expect(conns, "/idx/", 403, None, [vs[2]], step="index.html removed")
        put(index, vs[3])
        self.expect(conns, "/idx/", 200, vs[3], [vs[2]], step="index.html re-created")

    def test_files_at_and_past_the_cache_limit_are_seen_at_once(self):
        for size in (CACHE_MAX, CACHE_MAX + 1, 4 * CACHE_MAX):
            with self.subTest(size=size):
                name = "sized%d.txt" % size
                path = self.path(name)
                vs = [version(name, n, size) for n in range(3)]
                self.distinct(*vs)
                put(path, vs[0])
                conns = self.clients(2)
                self.warm(conns, "/" + name, vs[0])
                rewrite_in_place(path, vs[1])
                self.expect(conns, "/" + name, 200, vs[1], [vs[0]], step="in-place rewrite, %d bytes" % size)
                replace_by_rename(path, vs[2])
                self.expect(conns, "/" + name, 200, vs[2], [vs[1]], step="rename over it, %d bytes" % size)

    def test_many_quick_changes_are_each_seen(self):
        # Each change is made right after the previous response, so several fall within
        # one timestamp tick: in place with the mtime put back, a plain write, a rename.
        path = self.path("quick.txt")
        url = "/quick.txt"
        put(path, version("quick", 0))
        conns = self.clients()
        self.warm(conns, url, version("quick", 0))
        deadline = time.monotonic() + 12 * SLOW
        done = 0
        for i in range(1, 201):
            if time.monotonic() > deadline:
                break
            new, old = version("quick", i), version("quick", i - 1)
            kind = ("in place, mtime put back", "plain write", "rename over it")[i % 3]
            if i % 3 == 0:
                rewrite_in_place(path, new)
            elif i % 3 == 1:
                rewrite_in_place(path, new, mtime_ns=None)
            else:
                replace_by_rename(path, new)
            step = "change %d (%s)" % (i, kind)
            self.check(conns[0].get(url), url, 200, new, None, "keep-alive connection 0 (after %s)" % step, [old])
            c = 1 + i % (len(conns) - 1)
            self.check(conns[c].get(url), url, 200, new, None, "keep-alive connection %d (after %s)" % (c, step),
                       [old])
            if i % 10 == 0:
                self.check(fetch(self.port, url), url, 200, new, None, "a fresh connection (after %s)" % step,
                           [old])
            done = i
        self.assertGreaterEqual(done, 30, "too slow: only %d changes made in the time allowed" % done)

    def test_changes_made_while_serving_are_never_seen_out_of_order(self):
        # A writer changes the file as fast as it can while readers request it: state 2j
        # is content j renamed into place with mtime T + 2j s, state 2j+1 the same inode
        # with its mtime moved to T + 2j + 1 s. Each reader notes the last state whose
        # change had completed before it sent a request; the state in the response
        # (Last-Modified, and the body that must go with it) may not be older. A rename
        # brings in an inode that is not watched yet, and the utimes right after it can
        # fall between the server reading it and placing its watch.
        path = self.path("racing.txt")
        url = "/racing.txt"
        base = 1614834367  # whole seconds: Last-Modified has no finer resolution
        state = [0]        # the last state whose change has returned
        stop = threading.Event()
        violations, errors, checked = [], [], [0]

        def body_of(j):
            return version("racing", j)

        replace_by_rename(path, body_of(0), base * 10**9)

        def writer():
            try:
                for s in range(1, 100000):
                    if stop.is_set():
                        break
                    if s % 2 == 0:
                        replace_by_rename(path, body_of(s // 2), (base + s) * 10**9)
                    else:
                        set_mtime_ns(path, (base + s) * 10**9)
                    state[0] = s
            except BaseException as e:  # noqa: B902 (reported by the test thread)
                errors.append("writer: %r" % e)
            finally:
                stop.set()

        def reader(name, fresh_each_time):
            conn = None
            try:
                for _ in range(100000):
                    if stop.is_set():
                        break
                    before = state[0]
                    if fresh_each_time:
                        r = fetch(self.port, url)
                    else:
                        conn = conn or KeepAlive(self.port)
                        r = conn.get(url)
                        if (r.header("connection") or "").lower() == "close":
                            conn.close()  # --max-requests reached: go on with a new one
                            conn = None
                    lm = r.header("last-modified")
                    got = int(email.utils.parsedate_to_datetime(lm).timestamp()) - base if lm else None
                    if r.status != 200 or got is None:
                        problem = "not a 200 with a Last-Modified"
                    elif got < before:
                        problem = "STALE: an older state"
                    elif r.body != body_of(got // 2):
                        problem = "the body is not state %d's (%s)" % (
                            got, "an older one" if r.body in [body_of(j) for j in range(got // 2)]
                            else "bytes of no version at all")
                    else:
                        checked[0] += 1
                        continue
                    violations.append("%s: %s; request sent after state %d completed; got %d, Last-Modified %r "
                                      "(state %s), body %s" % (name, problem, before, r.status, lm, got, show(r.body)))
                    if len(violations) > 20:
                        stop.set()
            except BaseException as e:  # noqa: B902
                errors.append("%s: %r" % (name, e))
                stop.set()
            finally:
                if conn is not None:
                    conn.close()

        threads = [threading.Thread(target=reader, args=("keep-alive reader %d" % i, False)) for i in range(4)]
        threads.append(threading.Thread(target=reader, args=("fresh-connection reader", True)))
        threads.append(threading.Thread(target=writer))
        for t in threads:
            t.start()
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(30 * SLOW)
        self.assertFalse(any(t.is_alive() for t in threads), "a thread did not finish")
        self.assertEqual(violations, [], "%d wrong responses; the first ones: %s" % (len(violations), violations[:5]))
        self.assertEqual(errors, [])
        self.assertGreaterEqual(state[0], 20, "the writer made too few changes to mean anything")
        self.assertGreaterEqual(checked[0], 100, "too few responses checked to mean anything")
        # And once everything has settled, the last state everywhere.
        last = state[0]
        conns = self.clients()
        self.expect(conns, url, 200, body_of(last // 2), [body_of(last // 2 - 1)], step="the race, at rest")
        for c in conns:
            self.assertEqual(c.get(url).header("last-modified"), email.utils.formatdate(base + last, usegmt=True))

    def test_pipelined_requests_after_a_change_all_see_it(self):
        path = self.path("piped.txt")
        vs = [version("piped", n) for n in range(4)]
        self.distinct(*vs)
        put(path, vs[0])
        conns = self.clients()
        self.warm(conns, "/piped.txt", vs[0])
        for n in range(1, 4):
            rewrite_in_place(path, vs[n])
            # The first thing each warm connection sees after the change is a pipelined batch.
            for i, c in enumerate(conns):
                for j, r in enumerate(c.pipelined("/piped.txt", n=PIPELINED)):
                    self.check(r, "/piped.txt", 200, vs[n], None,
                               "keep-alive connection %d, pipelined #%d after change %d" % (i, j, n), [vs[n - 1]])
            self.expect(conns, "/piped.txt", 200, vs[n], [vs[n - 1]], step="in-place rewrite %d" % n)

    def test_first_request_after_a_change_on_a_fresh_connection_sees_it(self):
        # No warm connection speaks first: the change must be seen by a request that
        # arrives on a new connection, alone or pipelined.
        path = self.path("fresh.txt")
        vs = [version("fresh", n) for n in range(7)]
        self.distinct(*vs)
        put(path, vs[0])
        conns = self.clients()
        self.warm(conns, "/fresh.txt", vs[0])
        for n in range(1, 7, 2):
            rewrite_in_place(path, vs[n])
            for k in range(WORKERS):
                self.check(fetch(self.port, "/fresh.txt"), "/fresh.txt", 200, vs[n], None,
                           "fresh connection %d, first after in-place rewrite %d" % (k, n), [vs[n - 1]])
            self.expect(conns, "/fresh.txt", 200, vs[n], [vs[n - 1]], step="in-place rewrite %d" % n)
            rewrite_in_place(path, vs[n + 1])
            for k in range(WORKERS):
                c = KeepAlive(self.port)
                try:
                    for j, r in enumerate(c.pipelined("/fresh.txt")):
                        self.check(r, "/fresh.txt", 200, vs[n + 1], None,
                                   "fresh connection %d, pipelined #%d, first after in-place rewrite %d"
                                   % (k, j, n + 1), [vs[n]])
                finally:
                    c.close()
            self.expect(conns, "/fresh.txt", 200, vs[n + 1], [vs[n]], step="in-place rewrite %d" % (n + 1))

    def test_change_to_a_neighbour_leaves_both_correct(self):
        make_dir(self.path("shared"))
        one, two = self.path("shared", "one.txt"), self.path("shared", "two.txt")
        ones = [version("one", n) for n in range(2)]
        twos = [version("two", n) for n in range(3)]
        self.distinct(*ones)
        self.distinct(*twos)
        put(one, ones[0])
        put(two, twos[0])
        conns = self.clients()
        self.warm(conns, "/shared/one.txt", ones[0])
        self.warm(conns, "/shared/two.txt", twos[0])
        rewrite_in_place(two, twos[1])
        self.expect(conns, "/shared/one.txt", 200, ones[0], [], step="two.txt rewritten")
        self.expect(conns, "/shared/two.txt", 200, twos[1], [twos[0]], step="two.txt rewritten")
        # Another name created and removed in the directory.
        put(self.path("shared", "three.txt"), b"three\n")
        os.unlink(self.path("shared", "three.txt"))
        self.expect(conns, "/shared/one.txt", 200, ones[0], [], step="three.txt created and removed")
        self.expect(conns, "/shared/two.txt", 200, twos[1], [twos[0]], step="three.txt created and removed")
        replace_by_rename(one, ones[1])
        self.expect(conns, "/shared/two.txt", 200, twos[1], [twos[0]], step="one.txt replaced")
        self.expect(conns, "/shared/one.txt", 200, ones[1], [ones[0]], step="one.txt replaced")
        # A hard link in a directory never served (so not watched): a write through it is
        # a write to two.txt, seen by no watch but the file's own.
        make_dir(self.path("elsewhere"))
        other = self.path("elsewhere", "two-link.txt")
        os.link(two, other)
        self.warm(conns, "/shared/two.txt", twos[1])
        rewrite_in_place(other, twos[2], mtime_ns=None)
        self.expect(conns, "/shared/two.txt", 200, twos[2], [twos[1]], step="written through a hard link")
        self.expect(conns, "/shared/one.txt", 200, ones[1], [ones[0]], step="written through a hard link")

    def test_precompressed_sibling_removed_and_restored_is_seen_at_once(self):
        path = self.path("coded.txt")
        data = b"".join(b"line %04d of a text file with a precompressed sibling\n" % i for i in range(60))
        # The server never decodes a sibling: any bytes do, as long as they differ.
        gz = [b"\x1f\x8b fake gzip, generation %d \x00\x01\x02\n" % n * 8 for n in range(3)]
        self.distinct(*gz)
        gzip_ae = [("Accept-Encoding", "gzip")]
        put(path, data)
        put(path + ".gz", gz[0], NEWER_NS)
        conns = self.clients()
        self.warm(conns, "/coded.txt", gz[0], gzip_ae, coding="gzip")
        self.warm(conns, "/coded.txt", data)
        # Removed: identity, for a client that accepts gzip and for one that does not.
        os.unlink(path + ".gz")
        self.expect(conns, "/coded.txt", 200, data, [gz[0]], gzip_ae, step=".gz removed")
        self.expect(conns, "/coded.txt", 200, data, [], step=".gz removed")
        # Re-created, newer than the original: gzip again; identity without Accept-Encoding.
        put(path + ".gz", gz[1], NEWER_NS)
        self.expect(conns, "/coded.txt", 200, gz[1], [gz[0], data], gzip_ae, coding="gzip", step=".gz re-created")
        self.expect(conns, "/coded.txt", 200, data, [gz[1]], step=".gz re-created")
        self.expect(conns, "/coded.txt", 200, gz[1], [gz[0], data], gzip_ae, coding="gzip",
                    step=".gz re-created, after an identity request")
        # Rewritten in place, same size and mtime.
        rewrite_in_place(path + ".gz", gz[2], NEWER_NS)
        self.expect(conns, "/coded.txt", 200, gz[2], [gz[1], data], gzip_ae, coding="gzip",
                    step=".gz rewritten in place")
        # Made older than the original: stale, so identity.
        set_mtime_ns(path + ".gz", MTIME_NS - 1)
        self.expect(conns, "/coded.txt", 200, data, [gz[2]], gzip_ae, step=".gz made older than the original")
        self.expect(conns, "/coded.txt", 200, data, [gz[2]], step=".gz made older than the original")

    def test_original_made_newer_than_its_warm_sibling_is_seen_at_once(self):
        # The sibling does not change; the original does, and that alone makes the
        # sibling unfit to send (older than the original).
        path = self.path("deploy.txt")
        data = [b"".join(b"line %04d of deploy version %d\n" % (i, n) for i in range(60)) for n in range(3)]
        gz = [b"\x1f\x8b fake gzip of deploy version %d \x00\x01\n" % n * 8 for n in range(3)]
        self.distinct(*data)
        self.distinct(*gz)
        gzip_ae = [("Accept-Encoding", "gzip")]
        put(path, data[0])
        put(path + ".gz", gz[0], NEWER_NS)
        conns = self.clients()
        self.warm(conns, "/deploy.txt", gz[0], gzip_ae, coding="gzip")
        # Rewritten in place (same size), newer than the .gz: identity, the new bytes.
        rewrite_in_place(path, data[1], NEWER_NS + 1)
        self.expect(conns, "/deploy.txt", 200, data[1], [gz[0], data[0]], gzip_ae,
                    step="original rewritten newer than its .gz")
        # The .gz brought up to date, as old as the original: gzip again.
        rewrite_in_place(path + ".gz", gz[1], NEWER_NS + 1)
        self.expect(conns, "/deploy.txt", 200, gz[1], [gz[0], data[1]], gzip_ae, coding="gzip",
                    step=".gz brought up to date")
        # Replaced by rename with a newer original: identity again.
        replace_by_rename(path, data[2], NEWER_NS + 2)
        self.expect(conns, "/deploy.txt", 200, data[2], [gz[1], data[1]], gzip_ae,
                    step="original replaced by rename, newer than its .gz")

    def test_directory_index_sibling_is_seen_at_once(self):
        # The directory form's index.html and its sibling, as the cache looks them up.
        make_dir(self.path("zdir"))
        index = self.path("zdir", "index.html")
        data = b"".join(b"<p>line %04d of an index page</p>\n" % i for i in range(60))
        br = [b"fake brotli of the index, generation %d \x00\n" % n * 8 for n in range(2)]
        self.distinct(*br)
        br_ae = [("Accept-Encoding", "gzip, deflate, br")]
        put(index, data)
        conns = self.clients()
        self.warm(conns, "/zdir/", data, br_ae)
        put(index + ".br", br[0], NEWER_NS)
        self.expect(conns, "/zdir/", 200, br[0], [data], br_ae, coding="br", step="index.html.br created")
        rewrite_in_place(index + ".br", br[1], NEWER_NS)
        self.expect(conns, "/zdir/", 200, br[1], [br[0], data], br_ae, coding="br",
                    step="index.html.br rewritten in place")
        self.expect(conns, "/zdir/", 200, data, [br[1]], step="index.html.br rewritten (no coding accepted)")
        os.unlink(index + ".br")
        self.expect(conns, "/zdir/", 200, data, [br[1]], br_ae, step="index.html.br removed")

    def test_sibling_renamed_in_or_out_alone_is_seen_at_once(self):
        # Only a directory event tells here: each sibling is prepared (bytes and mtime)
        # in a directory that is never served, then renamed in or out, so neither the
        # original nor any watched file changes.
        os.makedirs(self.path("sibdir"))
        os.makedirs(self.path("staging"))
        path = self.path("sibdir", "page.txt")
        data = b"".join(b"line %04d of a page whose siblings come and go\n" % i for i in range(60))
        gz = b"\x1f\x8b fake gzip of the page \x00\x01\x02\n" * 8
        br = b"fake brotli of the page, generation 1 \x00\n" * 8
        gzip_ae = [("Accept-Encoding", "gzip")]
        both_ae = [("Accept-Encoding", "gzip, br")]
        put(path, data)
        conns = self.clients()
        self.warm(conns, "/sibdir/page.txt", data, gzip_ae)
        self.warm(conns, "/sibdir/page.txt", data, both_ae)

        staged_gz, staged_br = self.path("staging", "page.txt.gz"), self.path("staging", "page.txt.br")
        put(staged_gz, gz, NEWER_NS)
        os.rename(staged_gz, path + ".gz")
        self.expect(conns, "/sibdir/page.txt", 200, gz, [data], gzip_ae, coding="gzip", step=".gz renamed in")
        self.expect(conns, "/sibdir/page.txt", 200, gz, [data], both_ae, coding="gzip",
                    step=".gz renamed in (gzip, br)")

        # A .br beside it: preferred when both are accepted equally (docs/conformance.md).
        put(staged_br, br, NEWER_NS)
        os.rename(staged_br, path + ".br")
        self.expect(conns, "/sibdir/page.txt", 200, br, [gz, data], both_ae, coding="br", step=".br renamed in")
        self.expect(conns, "/sibdir/page.txt", 200, gz, [br, data], gzip_ae, coding="gzip",
                    step=".br renamed in (gzip only)")

        # Renamed out again, one after the other.
        os.rename(path + ".br", staged_br)
        self.expect(conns, "/sibdir/page.txt", 200, gz, [br, data], both_ae, coding="gzip", step=".br renamed out")
        os.rename(path + ".gz", staged_gz)
        self.expect(conns, "/sibdir/page.txt", 200, data, [gz], both_ae, step=".gz renamed out")
        self.expect(conns, "/sibdir/page.txt", 200, data, [gz], gzip_ae, step=".gz renamed out (gzip only)")


class FreshnessWithStatTest(FreshnessTest):
    """The same with --revalidate=stat: no watch, a stat on every request."""

    server_args = ("--threads", str(WORKERS), "--revalidate=stat", "--compress", "off")


if __name__ == "__main__":
    unittest.main()
