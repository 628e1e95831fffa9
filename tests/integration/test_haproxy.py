"""Behind a load balancer: HAProxy in front of two instances; one is stopped (SIGTERM)
under load (wrk) and no request fails.

The HAProxy configuration is the one docs/deploy.md explains (HAPROXY_CFG below);
only the ports and the paths differ. Needs the Debian packages haproxy and wrk
(skipped with a message when either is missing).
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from wshelper import (
    SLOW,
    WEBSERVER,
    Server,
    file_digest,
    make_big_file,
    make_root,
    raw_request,
    read_head,
    wait_until,
)

HAPROXY = shutil.which("haproxy") or (os.path.exists("/usr/sbin/haproxy") and "/usr/sbin/haproxy")
WRK = shutil.which("wrk")

HAPROXY_CFG = """\
global
    maxconn 4096
    stats socket {admin_socket} mode 600 level admin

defaults
    mode http
    option forwardfor
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    # Retry a request that could not be delivered, on the other server:
    retries 3
    option redispatch 1
    retry-on all-retryable-errors

frontend www
    bind 127.0.0.1:{port}
    default_backend webservers

backend webservers
    balance roundrobin
    option httpchk
    http-check send meth GET uri /HelloWorld.html ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server check inter 500ms fastinter 100ms downinter 1s fall 2 rise 2
    server a 127.0.0.1:{port_a}
    server b 127.0.0.1:{port_b}
"""

# wrk counts responses per status only as "non-2xx or 3xx"; count everything but 200.
# One request in four is for a 256 KiB file, so that some responses are really in
# flight (more than one send) when an instance is stopped.
WRK_SCRIPT = """\
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  not_ok = 0
  n = 0
  small = wrk.format("GET", "/HelloWorld.html")
  medium = wrk.format("GET", "/medium.bin")
end
function request()
  n = n + 1
  if n % 4 == 0 then return medium end
  return small
end
function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("not_ok") end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d not_200=%d connect=%d read=%d write=%d "
                         .. "status=%d timeout=%d max_latency_us=%d\\n",
                         summary.requests, n, e.connect, e.read, e.write, e.status, e.timeout,
                         latency.max))
end
"""

RESULT = re.compile(r"^RESULT (.*)$", re.M)

LOAD_SECONDS = 4
STOP_AFTER = 1.5

# A download through HAProxy by a reader that takes SLOW_SIZE bytes at SLOW_RATE a second.
SLOW_SIZE = 16 << 20
SLOW_RATE = 8 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin(path, command, timeout=5.0):
    """One command on HAProxy's stats socket; returns the answer."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                return b"".join(chunks).decode()
            chunks.append(data)


def server_states(path):
    """{server name: status} of backend webservers, from "show stat"."""
    try:
        text = admin(path, "show stat")
    except OSError:
        return {}
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    states = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "webservers" and row.get("svname") in ("a", "b"):
            states[row["svname"]] = row.get("status", "")
    return states


def sending_sockets(pid):
    """How many of the process's TCP sockets have bytes queued to send (/proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            tx_queue = int(cols[4].split(":")[0], 16)
            if cols[9] in inodes and tx_queue > 0:
                count += 1
    return count


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


class HaproxyTest(unittest.TestCase):
    def setUp(self):
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            self.skipTest("WEBSERVER is not set to the built binary")
        if not HAPROXY:
            self.skipTest("haproxy is not installed (Debian package haproxy)")
        if not WRK:
            self.skipTest("wrk is not installed (Debian package wrk)")
        self.dir = tempfile.mkdtemp(prefix="ws-haproxy-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.root = make_root()
        self.addCleanup(shutil.rmtree, self.root, True)
        with open(os.path.join(self.root, "medium.bin"), "wb") as f:
            f.write(os.urandom(256 << 10))

    def start_instance(self, name):
        log = os.path.join(self.dir, name + ".log")
        server = Server(self.root, ("--threads", "4", "--trusted-proxy", "127.0.0.1"),
                        access_log=log)
        self.addCleanup(server.kill)
        return server, log

    def start_haproxy(self, port, port_a, port_b):
        admin_socket = os.path.join(self.dir, "admin.sock")
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG.format(admin_socket=admin_socket, port=port, port_a=port_a,
                                       port_b=port_b))
        out = open(os.path.join(self.dir, "haproxy.out"), "wb")
        self.addCleanup(out.close)
        proc = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

        self.addCleanup(stop)
        up = wait_until(lambda: proc.poll() is not None or
                        server_states(admin_socket) == {"a": "UP", "b": "UP"}, 10)
        if proc.poll() is not None or not up:
            with open(os.path.join(self.dir, "haproxy.out"), "rb") as f:
                self.fail("HAProxy did not come up with both servers UP: %s\n%s"
                          % (server_states(admin_socket), f.read().decode("utf-8", "replace")))
        return proc, admin_socket

    def run_stop_under_load(self, drain_first):
        """wrk through HAProxy; STOP_AFTER seconds in, instance a gets SIGTERM (after
        being set to drain on HAProxy's admin socket, if drain_first). Returns wrk's
        counts, having checked that none failed and that b kept serving."""
        a, log_a = self.start_instance("a")
        b, log_b = self.start_instance("b")
        port = free_port()
        haproxy, admin_socket = self.start_haproxy(port, a.port, b.port)

        script = os.path.join(self.dir, "count.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT)
        wrk = subprocess.Popen([WRK, "-t2", "-c16", "-d%ds" % LOAD_SECONDS, "--timeout", "5s",
                                "-s", script, "http://127.0.0.1:%d/HelloWorld.html" % port],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        out_box = []
        reader = threading.Thread(target=lambda: out_box.append(wrk.communicate()[0]), daemon=True)
        reader.start()
        try:
            time.sleep(STOP_AFTER)
            if drain_first:
                self.assertEqual(admin(admin_socket, "set server webservers/a state drain").strip(),
                                 "")
                # Requests already sent to a finish; no new one goes there.
                settled = count_lines(log_a)
                for _ in range(50):
                    time.sleep(0.1)
                    now = count_lines(log_a)
                    if now == settled:
                        break
                    settled = now
            served_by_a = count_lines(log_a)
            b_before = count_lines(log_b)
            a.stop_checked(self)  # SIGTERM; it must exit 0 within its grace period
            b_at_stop = count_lines(log_b)
            reader.join(LOAD_SECONDS + 30)
        finally:
            if wrk.poll() is None:
                wrk.kill()
        self.assertFalse(reader.is_alive(), "wrk did not finish")
        output = out_box[0].decode("utf-8", "replace")
        m = RESULT.search(output)
        self.assertIsNotNone(m, output)
        result = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}

        # Both instances served before the stop, and b alone kept serving after it.
        self.assertGreater(served_by_a, 100, "a served too little before the stop")
        self.assertGreater(b_before, 100, "b served too little before the stop")
        if drain_first:
            self.assertEqual(count_lines(log_a), served_by_a, "a got requests while draining")
        self.assertTrue(b.alive(), "b died")
        self.assertGreater(count_lines(log_b) - b_at_stop, 500, "b did not keep serving")
        self.assertEqual(server_states(admin_socket).get("a"), "DOWN",
                         "the health check did not take a out")
        self.assertEqual(server_states(admin_socket).get("b"), "UP")

        self.assertGreater(result["requests"], 1000, output)
        failures = {k: result[k] for k in ("not_200", "connect", "read", "write", "status",
                                           "timeout")}
        self.assertEqual(failures, dict.fromkeys(failures, 0),
                         "failed requests through HAProxy:\n%s" % output)
        print("\nhaproxy (%s): %d requests, 0 failed, max latency %.0f ms; a served %d, "
              "b %d" % ("drain, then SIGTERM" if drain_first else "SIGTERM", result["requests"],
                        result["max_latency_us"] / 1000, served_by_a, count_lines(log_b)))

        # The balancer is the only peer the instances saw; with --trusted-proxy the
        # X-Forwarded-For that "option forwardfor" adds is what they log: wrk's address.
        with open(log_b, "rb") as f:
            first = f.readline().decode("latin-1")
        self.assertTrue(first.startswith("127.0.0.1 - - ["), first)
        b.stop_checked(self)
        return result

    def test_download_in_flight_survives_sigterm(self):
        """Graceful drain through the balancer: the instance sending a long download
        gets SIGTERM; the download still completes, byte for byte, and the instance
        exits 0 once it has."""
        make_big_file(os.path.join(self.root, "slow.bin"), SLOW_SIZE)
        a, _ = self.start_instance("a")
        b, _ = self.start_instance("b")
        port = free_port()
        self.start_haproxy(port, a.port, b.port)

        s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(raw_request("/slow.bin", close=True))
        head, rest = read_head(s)
        self.assertEqual(head.status, 200)
        got = len(rest)
        digest = hashlib.sha256(rest)
        start = time.monotonic()
        serving = None
        while got < SLOW_SIZE:
            if serving is None and SLOW_SIZE // 8 < got < SLOW_SIZE // 2:
                # Which instance is sending? The one whose socket has bytes queued
                # (asked again while a health check makes both look busy).
                busy = [srv for srv in (a, b) if sending_sockets(srv.pid) > 0]
                if len(busy) == 1:
                    serving = busy[0]
                    serving.proc.send_signal(signal.SIGTERM)
            data = s.recv(65536)
            if not data:
                break
            digest.update(data)
            got += len(data)
            ahead = start + got / SLOW_RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        self.assertIsNotNone(serving, "could not tell which instance was sending")
        self.assertEqual(got, SLOW_SIZE, "the download was cut short")
        self.assertEqual(digest.hexdigest(), file_digest(os.path.join(self.root, "slow.bin")))
        self.assertEqual(serving.proc.wait(10 * SLOW), 0)
        other = b if serving is a else a
        self.assertTrue(other.alive())
        serving.stop_checked(self)
        other.stop_checked(self)

    def test_sigterm_one_instance_under_load_no_request_fails(self):
        self.run_stop_under_load(drain_first=False)

    def test_drain_then_sigterm_no_request_fails(self):
        self.run_stop_under_load(drain_first=True)


if __name__ == "__main__":
    unittest.main()
