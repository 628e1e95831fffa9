"""Connection handling: fragmented requests, half-close, Connection: close, the request
cap, and lingering close (RFC 9112 §9).

A request may arrive in any number of pieces; the answer must not depend on
where TCP split it. A client that half-closes after its request still gets the
whole answer. After an error that closes the connection, the answer must reach
the client even while it keeps sending (the server drains instead of resetting).
"""

import select
import socket
import ssl
import time
import unittest

from confhelper import (
    SLOW,
    TLS,
    ConformanceTestCase,
    Reader,
    cases,
    fd_count,
    main,
    parse_responses,
    recv_all,
    stream_body,
    wait_until,
)
import os

SHORT = b"GET /HelloWorld.html HTTP/1.1\r\nHost: a\r\n\r\n"
SHORT_CLOSE = b"GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
CHUNKED = b"GET /HelloWorld.html HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n"
BIG_SIZE = 4 << 20


class ConnectionTest(ConformanceTestCase):
    server_args = ("--threads", "2")

    @classmethod
    def prepare_root(cls, root):
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(BIG_SIZE))

    def statuses(self, data, head_flags=()):
        rs, rest = parse_responses(data, head_flags)
        self.assertEqual(rest, b"", "incomplete response: %r" % rest[:200])
        return rs

    def send_pieces(self, pieces, pause=0.004):
        """Sends each piece in its own segment (TCP_NODELAY and a pause); returns (data, end)."""
        with self.connect(nodelay=True) as s:
            for p in pieces:
                s.sendall(p)
                time.sleep(pause)
            return recv_all(s, timeout=5)

    # --- fragmentation -----------------------------------------------------------------------

    def test_byte_at_a_time_request(self):
        """RFC 9112 §2.1: a request sent one byte per segment is parsed like any other."""
        raw = cases.get("/HelloWorld.html", "User-Agent: trickle", "Connection: close")
        data, end = self.send_pieces([raw[i:i + 1] for i in range(len(raw))], pause=0.001)
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [200])
        self.assertEqual(rs[0].body, cases.HELLO)
        self.assertEqual(end, "eof")

    def test_byte_at_a_time_pipelined_pair(self):
        """RFC 9112 §9.3.2: two pipelined requests, one byte at a time, answered in order."""
        raw = SHORT + SHORT_CLOSE
        data, end = self.send_pieces([raw[i:i + 1] for i in range(len(raw))], pause=0.001)
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [200, 200])
        self.assertEqual([rs[0].body, rs[1].body], [cases.HELLO, cases.INDEX])

    def test_byte_at_a_time_bad_request(self):
        """RFC 9112 §5.1: whitespace before a colon is caught however slowly it arrives."""
        raw = b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"
        data, end = self.send_pieces([raw[i:i + 1] for i in range(len(raw))], pause=0.001)
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [400])
        self.assertEqual(end, "eof")

    def test_byte_at_a_time_chunked_body(self):
        """RFC 9112 §7.1: a chunked body trickling in is decoded across every boundary."""
        raw = CHUNKED + SHORT_CLOSE
        data, end = self.send_pieces([raw[i:i + 1] for i in range(len(raw))], pause=0.001)
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [200, 200])

    def test_request_split_at_every_offset(self):
        """RFC 9112 §2.1: the same short request split in two at each offset."""
        raw = SHORT_CLOSE
        for i in range(1, len(raw)):
            with self.subTest(offset=i):
                data, end = self.send_pieces([raw[:i], raw[i:]], pause=0.003)
                rs = self.statuses(data)
                self.assertEqual([r.status for r in rs], [200])
                self.assertEqual(rs[0].body, cases.INDEX)
                self.assertEqual(end, "eof")

    def test_pipelined_pair_split_at_every_offset(self):
        """RFC 9112 §9.3.2: two requests in one stream, split at each offset."""
        raw = SHORT + SHORT_CLOSE
        for i in range(1, len(raw)):
            with self.subTest(offset=i):
                data, end = self.send_pieces([raw[:i], raw[i:]], pause=0.002)
                rs = self.statuses(data)
                self.assertEqual([r.status for r in rs], [200, 200])

    def test_chunked_body_split_at_every_offset(self):
        """RFC 9112 §7.1: chunk-size, extension, data and CRLF split at each offset."""
        raw = CHUNKED + SHORT_CLOSE
        for i in range(len(CHUNKED) - 30, len(raw)):
            with self.subTest(offset=i):
                data, end = self.send_pieces([raw[:i], raw[i:]], pause=0.002)
                rs = self.statuses(data)
                self.assertEqual([r.status for r in rs], [200, 200])

    def test_crlf_split_between_segments(self):
        """RFC 9112 §2.2: CR at the end of one segment, LF at the start of the next."""
        raw = SHORT_CLOSE
        pieces, start = [], 0
        for i in range(len(raw)):
            if raw[i:i + 1] == b"\r":
                pieces.append(raw[start:i + 1])
                start = i + 1
        pieces.append(raw[start:])
        data, end = self.send_pieces(pieces, pause=0.01)
        self.assertEqual([r.status for r in self.statuses(data)], [200])

    # --- half-close -------------------------------------------------------------------------

    def half_close(self, raw, head_flags=(), timeout=10):
        with self.connect(timeout=timeout) as s:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            return recv_all(s, timeout=timeout)

    def test_half_close_after_pipelined_requests(self):
        """RFC 9112 §9.6: SHUT_WR after three requests: all three answers arrive, then EOF."""
        data, end = self.half_close(SHORT + cases.get("/index.html") + cases.get("/missing"))
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [200, 200, 404])
        self.assertEqual(end, "eof")

    def test_half_close_after_big_file_request(self):
        """RFC 9112 §9.6: the whole 4 MiB file arrives after the client's FIN."""
        with self.connect(timeout=10) as s:
            s.sendall(cases.get("/big.bin"))
            s.shutdown(socket.SHUT_WR)
            reader = Reader(s)
            while b"\r\n\r\n" not in reader.buf:
                reader._fill()
            head, rest = reader.buf.split(b"\r\n\r\n", 1)
            self.assertTrue(head.startswith(b"HTTP/1.1 200 "))
            n, _ = stream_body(s, rest, BIG_SIZE)
            self.assertEqual(n, BIG_SIZE)
            data, end = recv_all(s, timeout=5)
        self.assertEqual((data, end), (b"", "eof"))

    def test_half_close_after_bad_request(self):
        """RFC 9112 §9.6: the 400 is delivered whole to a client that has stopped sending."""
        data, end = self.half_close(b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n")
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [400])
        self.assertEqual(end, "eof")

    def test_half_close_after_body(self):
        """RFC 9112 §6.3: the body is complete before the FIN: the answer still comes."""
        data, end = self.half_close(cases.get("/HelloWorld.html", "Content-Length: 5", body=b"hello"))
        self.assertEqual([r.status for r in self.statuses(data)], [200])

    def test_half_close_mid_head_closes_promptly(self):
        """RFC 9112 §8: an incomplete message: the server MAY answer it; ours closes without
        an answer (there is no request to answer), never waiting for the timeout."""
        start = time.monotonic()
        data, end = self.half_close(b"GET /HelloWorld.html HTTP/1.1\r\nHost: a\r\n", timeout=10)
        self.assertLess(time.monotonic() - start, 2.0 * SLOW)
        # Everything the client sent was read before the close: a FIN, never a reset.
        self.assertEqual((data, end), (b"", "eof"))

    def test_half_close_mid_body_closes_promptly(self):
        """RFC 9112 §8: the body stops short of its Content-Length: no answer is owed."""
        start = time.monotonic()
        data, end = self.half_close(cases.get("/HelloWorld.html", "Content-Length: 100", body=b"x" * 50))
        self.assertLess(time.monotonic() - start, 2.0 * SLOW)
        # Whether the GET is answered is left open (RFC 9112 §8 owes no answer): a server
        # may answer from the head before it reads the short body, or meet the FIN first,
        # depending on how it batches its reads. Either way everything the client sent is
        # read before the close: a FIN, never a reset.
        self.assertEqual(end, "eof")

    # --- Connection: close --------------------------------------------------------------------

    def test_connection_close_on_big_file_delivers_everything(self):
        """RFC 9112 §9.6: close only after the last byte of a 4 MiB answer."""
        with self.connect(timeout=10) as s:
            s.sendall(cases.get("/big.bin", "Connection: close") + SHORT)
            data, end = recv_all(s, timeout=10)
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [200])
        self.assertEqual(len(rs[0].body), BIG_SIZE)
        self.assertEqual(rs[0].body, self.file_bytes("big.bin"))
        self.assertEqual(end, "eof")

    def test_connection_close_on_head(self):
        """RFC 9112 §9.6: HEAD with close: the head, then FIN."""
        with self.connect() as s:
            s.sendall(cases.req("HEAD /big.bin HTTP/1.1", "Connection: close"))
            data, end = recv_all(s)
        rs = self.statuses(data, (True,))
        self.assertEqual([r.status for r in rs], [200])
        self.assertEqual(rs[0].body, b"")
        self.assertEqual(rs[0].header("connection"), "close")
        self.assertEqual(end, "eof")

    def test_connection_close_on_404_and_405(self):
        """RFC 9112 §9.6: close is honoured on error answers that would otherwise keep."""
        for raw, status in ((cases.get("/missing", "Connection: close"), 404),
                            (cases.req("POST / HTTP/1.1", "Connection: close", "Content-Length: 3",
                                       body=b"abc"), 405)):
            with self.subTest(status=status):
                with self.connect() as s:
                    s.sendall(raw + SHORT)
                    data, end = recv_all(s)
                rs = self.statuses(data)
                self.assertEqual([r.status for r in rs], [status])
                self.assertEqual(rs[0].header("connection"), "close")
                self.assertEqual(end, "eof")

    # --- the request cap ----------------------------------------------------------------------

    def capped(self, cap, raw, head_flags=()):
        server, baseline = self.own_server(("--threads", "2", "--max-requests", str(cap)))
        try:
            with self.connect(server.port) as s:
                s.sendall(raw)
                data, end = recv_all(s)
            rs = self.statuses(data, head_flags)
            self.assertEqual(end, "eof")
            self.check_server(server, server.pid, baseline)
        finally:
            self.stop_own(server)
        return rs

    def test_max_requests_cap_closes_after_last(self):
        """--max-requests 2: the second answer says close; pipelined requests after it are dropped."""
        rs = self.capped(2, SHORT * 4)
        self.assertEqual([r.status for r in rs], [200, 200])
        self.assertIsNone(rs[0].header("connection"))
        self.assertEqual(rs[1].header("connection"), "close")

    def test_max_requests_counts_errors(self):
        """--max-requests 2: a 404 and a 405 count as responses too."""
        rs = self.capped(2, cases.get("/missing") + cases.req("DELETE / HTTP/1.1") + SHORT)
        self.assertEqual([r.status for r in rs], [404, 405])
        self.assertEqual(rs[1].header("connection"), "close")

    def test_max_requests_one(self):
        """--max-requests 1: every connection carries exactly one response."""
        rs = self.capped(1, SHORT + SHORT)
        self.assertEqual([r.status for r in rs], [200])
        self.assertEqual(rs[0].header("connection"), "close")

    def test_max_requests_with_http10_keep_alive(self):
        """--max-requests 2 on an HTTP/1.0 keep-alive connection: the last says close."""
        raw = b"GET /HelloWorld.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        rs = self.capped(2, raw * 3)
        self.assertEqual([r.header("connection") for r in rs], ["keep-alive", "close"])

    def test_no_cap_serves_past_the_default(self):
        """--max-requests 0: 1100 pipelined requests on one connection, all answered."""
        rs = self.capped(0, SHORT * 1099 + SHORT_CLOSE)
        self.assertEqual(len(rs), 1100)
        self.assertEqual({r.status for r in rs}, {200})

    # --- lingering close -----------------------------------------------------------------------

    def junk_while_reading(self, s, total, piece=16384, pause=0.0, timeout=10.0):
        """Sends `total` bytes of junk in pieces (a pause after each) while reading
        everything the server sends, from this one thread: over TLS one OpenSSL
        session must never be used by two threads at once. Goes on sending after
        the server's end of stream (its FIN, or close_notify: TLS 1.3 allows the
        half-close) until all is sent. Returns (data, end, errors): end is "eof",
        "reset" or "timeout"; errors, what sending raised (a reset shows there)."""
        chunks, errors, sent, end = [], [], 0, None
        junk = b"J" * piece
        next_send = 0.0
        deadline = time.monotonic() + timeout * SLOW
        s.setblocking(False)
        while time.monotonic() < deadline and not (end is not None and (sent >= total or errors)):
            now = time.monotonic()
            sending = sent < total and not errors and now >= next_send
            select.select([s], [s] if sending else [], [], 0.02)
            if end is None:
                try:
                    # Also without select's word: TLS may hold bytes it already decrypted.
                    data = s.recv(1 << 20)
                    if data:
                        chunks.append(data)
                    else:
                        end = "eof"
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except ConnectionResetError:
                    end = "reset"
            if sending:
                try:
                    sent += s.send(junk[:min(piece, total - sent)])
                    if pause:
                        next_send = time.monotonic() + pause
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except OSError as e:
                    errors.append(e)
        s.setblocking(True)
        if sent < total and not errors:
            errors.append("only %d of %d bytes sent before the deadline" % (sent, total))
        return b"".join(chunks), end or "timeout", errors

    def test_error_delivered_while_megabytes_of_junk_follow(self):
        """RFC 9112 §9.6: 400, then 4 MiB of junk: the answer arrives whole and the close is a FIN."""
        with self.connect(timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n")
            data, end, errors = self.junk_while_reading(s, 4 << 20)
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [400])
        self.assertEqual(rs[0].header("connection"), "close")
        self.assertEqual(end, "eof")
        self.assertEqual(errors, [], "the server reset the connection while junk was arriving")

    def test_413_delivered_while_the_body_keeps_coming(self):
        """RFC 9110 §15.5.14: a 3 MiB body over the 1 MiB limit: 413 whole, then FIN."""
        with self.connect(timeout=10) as s:
            s.sendall(cases.get("/HelloWorld.html", "Content-Length: %d" % (3 << 20)))
            data, end, errors = self.junk_while_reading(s, 3 << 20)
        rs = self.statuses(data)
        self.assertEqual([r.status for r in rs], [413])
        self.assertEqual(end, "eof")
        self.assertEqual(errors, [])

    def test_junk_trickling_after_the_error(self):
        """RFC 9112 §9.6: junk that keeps trickling in for a second is drained, not reset."""
        with self.connect(timeout=10) as s:
            s.sendall(b"BAD\r\n\r\n")
            data, end, errors = self.junk_while_reading(s, 20 * 512, piece=512, pause=0.05)
        self.assertEqual([r.status for r in self.statuses(data)], [400])
        self.assertEqual(end, "eof")
        self.assertEqual(errors, [])

    def test_lingering_ends_without_the_client(self):
        """docs/design.md: a client that neither reads nor closes is dropped after the linger time."""
        s = self.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n" + b"J" * 1000)
        self.assertTrue(wait_until(lambda: fd_count(self.pid) > self.baseline, 2))
        self.assertTrue(wait_until(lambda: fd_count(self.pid) == self.baseline, 5),
                        "the lingering connection was never closed")
        data, end = recv_all(s, timeout=2)
        self.assertEqual([r.status for r in self.statuses(data)], [400])
        # The client's bytes all arrived long before and were read and dropped: a FIN.
        self.assertEqual(end, "eof")


if __name__ == "__main__":
    main()
