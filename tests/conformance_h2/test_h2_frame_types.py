"""RFC 9113 §6.1 DATA, §6.2 HEADERS, §6.3 PRIORITY, §6.4 RST_STREAM, §6.10 CONTINUATION, §7 error codes."""

import struct

from h2conf import (CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, FRAME_SIZE_ERROR, HEADERS, HELLO_PATH,
                    INITIAL_WINDOW_SIZE, KILO_PATH, PADDED, PRIORITY, PROTOCOL_ERROR, RST_STREAM, STREAM_CLOSED,
                    H2TestCase, continuation_frame, data_frame, frame, goaway_frame, headers_frame, main,
                    priority_frame, request_block, rst_frame, settings_frame, split_block, block_of)


def post_head(sid, length=None):
    """HEADERS of a POST without END_STREAM (content-length if given)."""
    extra = [] if length is None else [("content-length", str(length))]
    return headers_frame(sid, request_block(HELLO_PATH, "POST", extra=extra), end_stream=False)


class Data(H2TestCase):

    def assert_post_answered(self, conn, sid):
        """The POST on sid got a final response and nothing went wrong on the connection."""
        s = conn.response(sid)
        self.assertIsNotNone(s.status, "no response: %s" % conn.summary())
        self.assertIsNone(conn.goaway, conn.summary())
        self.assertIn(s.reset, (None, 0), "reset with an error: %s" % conn.summary())
        self.assertTrue(conn.ping(), conn.summary())

    def test_6_1_data_accepted(self):
        """RFC 9113 §6.1: a request body in one DATA frame is accepted."""
        conn = self.connect()
        conn.send(post_head(1, 5), data_frame(1, b"hello", end_stream=True))
        self.assert_post_answered(conn, 1)

    def test_6_1_multiple_data_accepted(self):
        """RFC 9113 §6.1: a request body in several DATA frames is accepted."""
        conn = self.connect()
        conn.send(post_head(1, 15), data_frame(1, b"hello"), data_frame(1, b"hello"),
                  data_frame(1, b"hello", end_stream=True))
        self.assert_post_answered(conn, 1)

    def test_6_1_padded_data_accepted(self):
        """RFC 9113 §6.1: a padded DATA frame is accepted (padding is not content)."""
        conn = self.connect()
        conn.send(post_head(1, 5), data_frame(1, b"hello", end_stream=True, pad=10))
        self.assert_post_answered(conn, 1)

    def test_6_1_all_padding_data_accepted(self):
        """RFC 9113 §6.1: a DATA frame whose payload is all padding (Pad Length = length - 1) is valid."""
        conn = self.connect()
        conn.send(post_head(1, 0), data_frame(1, b"", end_stream=True, pad=200))
        self.assert_post_answered(conn, 1)

    def test_6_1_data_on_stream_zero(self):
        """RFC 9113 §6.1: DATA on stream 0 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(data_frame(0, b"x"))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_1_data_pad_length_too_large(self):
        """RFC 9113 §6.1: a Pad Length not less than the payload length is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(post_head(1, 3), frame(DATA, PADDED | END_STREAM, 1, bytes([6]) + b"abc" + b"\0\0"))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_1_data_on_closed_stream(self):
        """RFC 9113 §6.1: DATA on a stream not "open" or "half-closed (local)" (a finished exchange)
        is an error STREAM_CLOSED."""
        conn = self.connect()
        self.assert_ok(conn, conn.request(HELLO_PATH))
        conn.send(data_frame(1, b"x", end_stream=True))
        self.assert_stream_error(conn, 1, STREAM_CLOSED)


class Headers(H2TestCase):

    def test_6_2_headers_accepted(self):
        """RFC 9113 §6.2: a HEADERS frame with END_STREAM and END_HEADERS is a whole request."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH)))
        self.assert_ok(conn, 1)

    def test_6_2_padded_headers_accepted(self):
        """RFC 9113 §6.2: a padded HEADERS frame is accepted."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), pad=32))
        self.assert_ok(conn, 1)

    def test_6_2_headers_with_priority_accepted(self):
        """RFC 9113 §6.2: a HEADERS frame with the PRIORITY flag is accepted."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), priority=(0, 200, False)))
        self.assert_ok(conn, 1)

    def test_6_2_headers_padded_with_priority_accepted(self):
        """RFC 9113 §6.2: PADDED and PRIORITY together: Pad Length, the priority fields, the block, the padding."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), pad=7, priority=(0, 16, True)))
        self.assert_ok(conn, 1)

    def test_6_2_headers_on_stream_zero(self):
        """RFC 9113 §6.2: HEADERS on stream 0 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(0, request_block(HELLO_PATH)))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_2_headers_pad_length_too_large(self):
        """RFC 9113 §6.2: padding that exceeds the payload is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1, bytes([len(block) + 5]) + block))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_2_headers_then_priority_before_end_headers(self):
        """RFC 9113 §6.2: HEADERS without END_HEADERS followed by PRIORITY is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block, end_headers=False), priority_frame(1))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_2_headers_to_another_stream_before_end_headers(self):
        """RFC 9113 §6.2: HEADERS without END_HEADERS, then HEADERS on stream 3: connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), end_headers=False),
                  headers_frame(3, request_block(HELLO_PATH)))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_2_trailers_accepted(self):
        """RFC 9113 §8.1: a request with a body and a trailer section (HEADERS with END_STREAM) is answered."""
        conn = self.connect()
        conn.send(post_head(1, 5), data_frame(1, b"hello"),
                  headers_frame(1, block_of([("x-trailer", "yes")])))
        s = conn.response(1)
        self.assertIsNotNone(s.status, conn.summary())
        self.assertIsNone(conn.goaway, conn.summary())
        self.assertIn(s.reset, (None, 0), conn.summary())


class Priority(H2TestCase):

    def test_6_3_priority_on_stream_zero(self):
        """RFC 9113 §6.3: PRIORITY on stream 0 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(priority_frame(0, 1, 16))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_3_priority_wrong_length(self):
        """RFC 9113 §6.3: a PRIORITY frame of length other than 5 is a stream error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(frame(PRIORITY, 0, 1, struct.pack(">IBB", 0, 15, 0)))
        self.assert_stream_error(conn, 1, FRAME_SIZE_ERROR)


class RstStream(H2TestCase):

    def test_6_4_rst_stream_accepted(self):
        """RFC 9113 §6.4: RST_STREAM on an open stream ends it; the connection goes on."""
        conn = self.connect()
        conn.send(post_head(1), rst_frame(1, CANCEL))
        self.assert_healthy(conn)
        self.assert_ok(conn, conn.request(HELLO_PATH, sid=3))

    def test_6_4_rst_stream_stops_the_response(self):
        """RFC 9113 §6.4: after RST_STREAM the server sends no more DATA on that stream."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, 0)])
        sid = conn.request(KILO_PATH)
        self.assertTrue(conn.wait(lambda: conn.stream(sid).headers is not None), conn.summary())
        conn.send(rst_frame(sid, CANCEL), settings_frame([(INITIAL_WINDOW_SIZE, 65535)]))
        conn.drain()
        self.assertEqual([f for f in conn.frames if f.type == DATA and f.sid == sid], [], conn.summary())
        self.assert_healthy(conn)

    def test_6_4_rst_stream_on_stream_zero(self):
        """RFC 9113 §6.4: RST_STREAM on stream 0 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(rst_frame(0, CANCEL))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_4_rst_stream_wrong_length(self):
        """RFC 9113 §6.4: a RST_STREAM frame of length other than 4 is a connection error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(post_head(1), frame(RST_STREAM, 0, 1, b"\0\0\0\x08\0"))
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)

    def test_7_rst_stream_unknown_error_code(self):
        """RFC 9113 §7: an unknown error code in RST_STREAM MUST NOT trigger special behaviour."""
        conn = self.connect()
        conn.send(post_head(1), rst_frame(1, 0xff))
        self.assert_healthy(conn)
        self.assert_ok(conn, conn.request(HELLO_PATH, sid=3))

    def test_7_goaway_unknown_error_code(self):
        """RFC 9113 §7: an unknown error code in the client's GOAWAY MUST NOT trigger special behaviour:
        no error in return, and a request opened before it (stream 1) is still answered."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH)), goaway_frame(0, 0xff))
        self.assert_ok(conn, 1)
        conn.drain()
        self.assertTrue(conn.goaway is None or conn.goaway[1] == 0, conn.summary())


class Continuation(H2TestCase):

    def test_6_10_one_continuation_accepted(self):
        """RFC 9113 §6.10: a header block in HEADERS and one CONTINUATION is accepted."""
        conn = self.connect()
        conn.send(split_block(1, request_block(HELLO_PATH), 2))
        self.assert_ok(conn, 1)

    def test_6_10_several_continuations_accepted(self):
        """RFC 9113 §6.10: a header block in HEADERS and four CONTINUATION frames is accepted."""
        conn = self.connect()
        conn.send(split_block(1, request_block(HELLO_PATH), 5))
        self.assert_ok(conn, 1)

    def test_6_10_empty_continuation_accepted(self):
        """RFC 9113 §6.10: an empty CONTINUATION frame ending the block is accepted."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), end_headers=False), continuation_frame(1, b""))
        self.assert_ok(conn, 1)

    def test_6_10_continuation_then_other_frame(self):
        """RFC 9113 §6.10: a CONTINUATION without END_HEADERS followed by DATA is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:3], end_stream=False, end_headers=False),
                  continuation_frame(1, block[3:6], end_headers=False), data_frame(1, b"x", end_stream=True))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_10_continuation_on_stream_zero(self):
        """RFC 9113 §6.10: CONTINUATION on stream 0 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:3], end_headers=False), continuation_frame(0, block[3:]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_10_continuation_on_another_stream(self):
        """RFC 9113 §6.10: a CONTINUATION on another stream than the open block's is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:3], end_headers=False), continuation_frame(3, block[3:]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_10_continuation_after_end_headers(self):
        """RFC 9113 §6.10: CONTINUATION after a HEADERS with END_HEADERS is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), end_stream=False),
                  continuation_frame(1, block_of([("x-late", "1")])))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_10_continuation_after_continuation_with_end_headers(self):
        """RFC 9113 §6.10: CONTINUATION after a CONTINUATION with END_HEADERS is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:3], end_stream=False, end_headers=False), continuation_frame(1, block[3:]),
                  frame(CONTINUATION, END_HEADERS, 1, block_of([("x-late", "1")])))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_10_continuation_after_data(self):
        """RFC 9113 §6.10: CONTINUATION preceded by DATA (no header block open) is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(post_head(1, 1), data_frame(1, b"x"), continuation_frame(1, request_block(HELLO_PATH)))
        self.assert_connection_error(conn, PROTOCOL_ERROR)


if __name__ == "__main__":
    main()
