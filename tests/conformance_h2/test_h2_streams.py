"""RFC 9113 §5.1 stream states, §5.1.1 stream identifiers, §5.1.2 concurrency,
§5.3 priority signals, §5.4 error handling."""

import unittest

from h2conf import (CANCEL, CONTINUATION, HELLO_PATH, INITIAL_WINDOW_SIZE, KILO_PATH, MAX_CONCURRENT_STREAMS,
                    PROTOCOL_ERROR, REFUSED_STREAM, STREAM_CLOSED, H2TestCase, continuation_frame, data_frame,
                    frame, headers_frame, main, ping_frame, priority_frame, request_block, rst_frame, settings_frame,
                    window_update_frame)


class StreamCase(H2TestCase):

    def half_closed_remote(self):
        return self.pending_response()

    def closed_by_end_stream(self):
        """A connection and a stream closed both ways by END_STREAM (a whole exchange)."""
        conn = self.connect()
        sid = conn.request(HELLO_PATH)
        self.assert_ok(conn, sid)
        return conn, sid

    def closed_by_client_reset(self):
        """A connection and a stream the client reset with RST_STREAM while the response was pending."""
        conn, sid = self.half_closed_remote()
        conn.send(rst_frame(sid, CANCEL))
        self.assertTrue(conn.ping(), conn.summary())
        return conn, sid


class Idle(StreamCase):
    """RFC 9113 §5.1 idle: any frame but HEADERS or PRIORITY is a connection error PROTOCOL_ERROR."""

    def test_5_1_idle_data(self):
        """RFC 9113 §5.1: DATA on an idle stream is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(data_frame(1, b"x", end_stream=True))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_5_1_idle_rst_stream(self):
        """RFC 9113 §5.1, §6.4: RST_STREAM on an idle stream is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(rst_frame(1, CANCEL))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_5_1_idle_window_update(self):
        """RFC 9113 §5.1: WINDOW_UPDATE on an idle stream is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(window_update_frame(1, 100))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_5_1_idle_continuation(self):
        """RFC 9113 §5.1, §6.10: CONTINUATION on an idle stream is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(continuation_frame(1, request_block(HELLO_PATH)))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_5_1_idle_priority_accepted(self):
        """RFC 9113 §5.1, §6.3: PRIORITY on an idle stream is accepted."""
        conn = self.connect()
        conn.send(priority_frame(3, 0, 16))
        self.assert_healthy(conn)
        self.assert_serves(conn)

    def test_5_1_1_priority_on_idle_then_lower_stream(self):
        """RFC 9113 §5.1.1: PRIORITY on idle stream 5 opens nothing; HEADERS on stream 3 is then answered."""
        conn = self.connect()
        conn.send(priority_frame(5, 0, 16), headers_frame(3, request_block(HELLO_PATH)))
        self.assert_ok(conn, 3)
        self.assert_no_error(conn)


class HalfClosedRemote(StreamCase):
    """RFC 9113 §5.1 half-closed (remote): frames other than WINDOW_UPDATE, PRIORITY and
    RST_STREAM are a stream error STREAM_CLOSED."""

    def test_5_1_half_closed_remote_data(self):
        """RFC 9113 §5.1, §6.1: DATA on a half-closed (remote) stream is a stream error STREAM_CLOSED."""
        conn, sid = self.half_closed_remote()
        conn.send(data_frame(sid, b"x", end_stream=True))
        self.assert_stream_error(conn, sid, STREAM_CLOSED)

    def test_5_1_half_closed_remote_headers(self):
        """RFC 9113 §5.1: HEADERS on a half-closed (remote) stream is a stream error STREAM_CLOSED."""
        conn, sid = self.half_closed_remote()
        conn.send(headers_frame(sid, request_block(HELLO_PATH)))
        self.assert_stream_error(conn, sid, STREAM_CLOSED)

    def test_5_1_half_closed_remote_continuation(self):
        """RFC 9113 §5.1, §6.10: CONTINUATION on a half-closed (remote) stream (no header block open) is an
        error: STREAM_CLOSED, or the connection error PROTOCOL_ERROR of a CONTINUATION out of place."""
        conn, sid = self.half_closed_remote()
        conn.send(continuation_frame(sid, request_block(HELLO_PATH)))
        self.assert_stream_error(conn, sid, STREAM_CLOSED, PROTOCOL_ERROR)

    def test_5_1_half_closed_remote_window_update_accepted(self):
        """RFC 9113 §5.1: WINDOW_UPDATE on a half-closed (remote) stream is accepted (and lets the body flow)."""
        conn, sid = self.half_closed_remote()
        conn.send(window_update_frame(0, 100000), window_update_frame(sid, 100000))
        s = conn.response(sid)
        self.assertTrue(s.ended, conn.summary())
        self.assertEqual(len(s.data), 1000)
        self.assert_no_error(conn)

    def test_5_1_half_closed_remote_priority_accepted(self):
        """RFC 9113 §5.1: PRIORITY on a half-closed (remote) stream is accepted."""
        conn, sid = self.half_closed_remote()
        conn.send(priority_frame(sid, 0, 32))
        self.assert_healthy(conn)

    def test_5_1_half_closed_remote_rst_stream_accepted(self):
        """RFC 9113 §5.1: RST_STREAM on a half-closed (remote) stream closes it; the connection goes on."""
        conn, sid = self.half_closed_remote()
        conn.send(rst_frame(sid, CANCEL))
        self.assert_healthy(conn)
        conn.send(settings_frame([(INITIAL_WINDOW_SIZE, 65535)]))
        self.assert_serves(conn)


class Closed(StreamCase):
    """RFC 9113 §5.1 closed."""

    def test_5_1_closed_after_reset_data(self):
        """RFC 9113 §5.1: DATA after the client's RST_STREAM is a stream error STREAM_CLOSED."""
        conn, sid = self.closed_by_client_reset()
        conn.send(data_frame(sid, b"x", end_stream=True))
        self.assert_stream_error(conn, sid, STREAM_CLOSED)

    def test_5_1_closed_after_reset_headers(self):
        """RFC 9113 §5.1: HEADERS after the client's RST_STREAM is a stream error STREAM_CLOSED."""
        conn, sid = self.closed_by_client_reset()
        conn.send(headers_frame(sid, request_block(HELLO_PATH)))
        self.assert_stream_error(conn, sid, STREAM_CLOSED)

    def test_5_1_closed_after_reset_continuation(self):
        """RFC 9113 §5.1, §6.10: CONTINUATION after the client's RST_STREAM: STREAM_CLOSED, or PROTOCOL_ERROR."""
        conn, sid = self.closed_by_client_reset()
        conn.send(continuation_frame(sid, request_block(HELLO_PATH)))
        self.assert_stream_error(conn, sid, STREAM_CLOSED, PROTOCOL_ERROR)

    def test_5_1_closed_data(self):
        """RFC 9113 §5.1: DATA on a stream closed by END_STREAM both ways is a connection error STREAM_CLOSED."""
        conn, sid = self.closed_by_end_stream()
        conn.send(data_frame(sid, b"x", end_stream=True))
        self.assert_stream_error(conn, sid, STREAM_CLOSED)

    def test_5_1_closed_headers(self):
        """RFC 9113 §5.1, §5.1.1: HEADERS on a closed stream: STREAM_CLOSED (or PROTOCOL_ERROR, the id is not new)."""
        conn, sid = self.closed_by_end_stream()
        conn.send(headers_frame(sid, request_block(HELLO_PATH)))
        self.assert_stream_error(conn, sid, STREAM_CLOSED, PROTOCOL_ERROR)

    def test_5_1_closed_continuation(self):
        """RFC 9113 §5.1, §6.10: CONTINUATION on a closed stream: STREAM_CLOSED or PROTOCOL_ERROR."""
        conn, sid = self.closed_by_end_stream()
        conn.send(continuation_frame(sid, request_block(HELLO_PATH)))
        self.assert_stream_error(conn, sid, STREAM_CLOSED, PROTOCOL_ERROR)

    def test_5_1_closed_priority_accepted(self):
        """RFC 9113 §5.1: PRIORITY on a closed stream is accepted."""
        conn, sid = self.closed_by_end_stream()
        conn.send(priority_frame(sid, 0, 16))
        self.assert_healthy(conn)
        self.assert_serves(conn)


class Identifiers(StreamCase):
    """RFC 9113 §5.1.1."""

    def test_5_1_1_even_stream_id(self):
        """RFC 9113 §5.1.1: a client-initiated stream with an even identifier is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(2, request_block(HELLO_PATH)))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_5_1_1_stream_id_lower_than_previous(self):
        """RFC 9113 §5.1.1: a new stream id lower than one already used is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(5, request_block(HELLO_PATH)))
        self.assert_ok(conn, 5)
        conn.send(headers_frame(3, request_block(HELLO_PATH)))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_5_1_1_stream_ids_may_skip(self):
        """RFC 9113 §5.1.1: ids need not be consecutive (1, then 11): both answered, the skipped ones closed."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH)), headers_frame(11, request_block(HELLO_PATH)))
        self.assert_ok(conn, 1)
        self.assert_ok(conn, 11)
        self.assert_no_error(conn)


class Concurrency(StreamCase):

    def test_5_1_2_stream_over_advertised_limit_refused(self):
        """RFC 9113 §5.1.2: a stream beyond the advertised SETTINGS_MAX_CONCURRENT_STREAMS is a stream error
        PROTOCOL_ERROR or REFUSED_STREAM; once a stream closes, a new one is served."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, 0)])
        limit = conn.server_settings.get(MAX_CONCURRENT_STREAMS)
        if limit is None or limit > 1000:
            raise unittest.SkipTest("the server advertises no usable SETTINGS_MAX_CONCURRENT_STREAMS: %r" % limit)
        sids = [2 * i + 1 for i in range(limit + 1)]
        conn.send(*[headers_frame(sid, request_block(KILO_PATH)) for sid in sids])
        over = sids[-1]
        self.assert_stream_error(conn, over, REFUSED_STREAM, PROTOCOL_ERROR)
        if conn.goaway is not None:
            return  # a connection error is allowed here too (§5.4.2)
        ok = conn.wait(lambda: all(conn.stream(s).headers is not None for s in sids[:-1]))
        self.assertTrue(ok, "not every stream within the limit was answered: %s" % conn.summary())
        conn.send(rst_frame(1, CANCEL))
        sid = over + 2
        conn.send(headers_frame(sid, request_block(KILO_PATH)))
        self.assertTrue(conn.wait(lambda: conn.stream(sid).headers is not None or conn.stream(sid).done()),
                        conn.summary())
        self.assertEqual(conn.stream(sid).status, 200, conn.summary())


class Priority(StreamCase):
    """RFC 9113 §5.3 (the RFC 7540 priority signals are still parsed, §5.3.1)."""

    def test_5_3_1_headers_depends_on_itself(self):
        """RFC 9113 §5.3.1: a stream cannot depend on itself: HEADERS so is a stream error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), priority=(1, 16, False)))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_5_3_1_priority_depends_on_itself(self):
        """RFC 9113 §5.3.1: PRIORITY making a stream depend on itself is a stream error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(priority_frame(1, 1, 16))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_5_3_priority_weight_1(self):
        """RFC 9113 §6.3: a PRIORITY frame with weight 1 is accepted."""
        conn = self.connect()
        conn.send(priority_frame(1, 0, 1))
        self.assert_healthy(conn)
        self.assert_serves(conn)

    def test_5_3_priority_weight_256(self):
        """RFC 9113 §6.3: a PRIORITY frame with weight 256 is accepted."""
        conn = self.connect()
        conn.send(priority_frame(1, 0, 256))
        self.assert_healthy(conn)
        self.assert_serves(conn)

    def test_5_3_priority_with_dependency(self):
        """RFC 9113 §6.3: a PRIORITY frame depending on another (idle) stream is accepted."""
        conn = self.connect()
        conn.send(priority_frame(3, 1, 16))
        self.assert_healthy(conn)
        self.assert_serves(conn)

    def test_5_3_priority_exclusive(self):
        """RFC 9113 §6.3: an exclusive PRIORITY is accepted."""
        conn = self.connect()
        conn.send(priority_frame(3, 1, 16, exclusive=True))
        self.assert_healthy(conn)
        self.assert_serves(conn)


class ErrorHandling(StreamCase):
    """RFC 9113 §5.4."""

    def test_5_4_1_connection_error_sends_goaway(self):
        """RFC 9113 §5.4.1: a connection error (PING on stream 1) is answered with GOAWAY PROTOCOL_ERROR first."""
        conn = self.connect()
        conn.send(ping_frame(sid=1))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_5_4_1_connection_error_closes_the_connection(self):
        """RFC 9113 §5.4.1: after a connection error the server MUST close the TCP connection."""
        conn = self.connect()
        conn.send(ping_frame(sid=1))
        self.assert_closed(conn)

    def test_5_4_1_goaway_names_the_last_stream(self):
        """RFC 9113 §5.4.1, §6.8: the GOAWAY of a connection error carries the last stream processed (1)."""
        conn = self.connect()
        self.assert_ok(conn, conn.request(HELLO_PATH))
        conn.send(ping_frame(sid=1))
        self.assert_connection_error(conn, PROTOCOL_ERROR)
        self.assertEqual(conn.goaway[0], 1, conn.summary())

    def test_5_4_2_stream_error_leaves_the_connection_usable(self):
        """RFC 9113 §5.4.2, §8.2.1: a malformed request (uppercase field name) is a stream error: RST_STREAM,
        and other streams are served on the same connection (issue 14 keeps these stream-scoped)."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH, extra=[("X-Upper", "1")])))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)
        self.assertIsNone(conn.goaway, "a connection error where a stream error was expected: %s" % conn.summary())
        self.assert_ok(conn, conn.request(HELLO_PATH, sid=3))

    def test_5_4_2_no_reset_for_a_reset(self):
        """RFC 9113 §5.4.2: an endpoint MUST NOT send RST_STREAM in answer to a RST_STREAM."""
        conn, sid = self.half_closed_remote()
        conn.send(rst_frame(sid, CANCEL))
        conn.drain()
        self.assertEqual([f for f in conn.frames if f.type == 3 and f.sid == sid], [], conn.summary())
        self.assert_healthy(conn)


if __name__ == "__main__":
    main()
