"""RFC 9113 §4.1 frame format, §4.2 frame size, §5.5 extending HTTP/2 (unknown frames)."""

from h2conf import (CONTINUATION, DATA, DEFAULT_MAX_FRAME, END_HEADERS, END_STREAM, FRAME_SIZE_ERROR, HEADERS,
                    HELLO, HELLO_PATH, MAX_FRAME_SIZE, PING, PROTOCOL_ERROR, BIG_PATH, H2TestCase, big_bytes,
                    data_frame, frame, headers_frame, hp_literal, main, request_block, settings_frame)

UNKNOWN_TYPE = 0xbe


class FrameFormat(H2TestCase):

    def test_4_1_unknown_frame_type_ignored(self):
        """RFC 9113 §4.1, §5.5: a frame of an unknown type on stream 0 is ignored and discarded."""
        conn = self.connect()
        conn.send(frame(UNKNOWN_TYPE, 0xff, 0, b"unknown extension payload"))
        self.assert_healthy(conn)
        self.assert_serves(conn)

    def test_5_5_unknown_frame_type_on_open_stream_ignored(self):
        """RFC 9113 §5.5: an unknown frame type on an open stream is ignored; the request still completes."""
        conn = self.connect()
        sid = conn.new_sid()
        conn.send(headers_frame(sid, request_block(HELLO_PATH), end_stream=False))
        conn.send(frame(UNKNOWN_TYPE, 0, sid, b"x" * 20), data_frame(sid, b"", end_stream=True))
        self.assert_ok(conn, sid)
        self.assert_no_error(conn)

    def test_5_5_unknown_frame_inside_header_block(self):
        """RFC 9113 §5.5, §6.10: an unknown frame between HEADERS and its CONTINUATION is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:3], end_headers=False), frame(UNKNOWN_TYPE, 0, 1, b"xx"),
                  frame(CONTINUATION, END_HEADERS, 1, block[3:]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_4_1_undefined_flags_on_ping_ignored(self):
        """RFC 9113 §4.1: flags a frame type does not define are ignored (PING with every flag but ACK set)."""
        conn = self.connect()
        conn.send(frame(PING, 0xfe, 0, b"flags!!!"))
        self.assertTrue(conn.wait(lambda: b"flags!!!" in conn.ping_acks), conn.summary())
        self.assert_healthy(conn)

    def test_4_1_undefined_flags_on_headers_ignored(self):
        """RFC 9113 §4.1: undefined HEADERS flags (0x2, 0x10, 0x40, 0x80) are ignored; the request is answered."""
        conn = self.connect()
        conn.send(frame(HEADERS, END_STREAM | END_HEADERS | 0x2 | 0x10 | 0x40 | 0x80, 1, request_block(HELLO_PATH)))
        self.assert_ok(conn, 1)

    def test_4_1_undefined_flags_on_data_ignored(self):
        """RFC 9113 §4.1: undefined DATA flags are ignored; the request ends and is answered."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), end_stream=False))
        conn.send(frame(DATA, END_STREAM | 0x2 | 0x4 | 0x10 | 0x20 | 0x40 | 0x80, 1, b""))
        self.assert_ok(conn, 1)

    def test_4_1_reserved_bit_on_ping_ignored(self):
        """RFC 9113 §4.1: the reserved bit of the stream identifier MUST be ignored on receipt (PING)."""
        conn = self.connect()
        conn.send(frame(PING, 0, 1 << 31, b"reserved"))
        self.assertTrue(conn.wait(lambda: b"reserved" in conn.ping_acks), conn.summary())
        self.assert_healthy(conn)

    def test_4_1_reserved_bit_on_headers_ignored(self):
        """RFC 9113 §4.1: a HEADERS frame with the reserved bit set is a request on stream 1."""
        conn = self.connect()
        conn.send(frame(HEADERS, END_STREAM | END_HEADERS, (1 << 31) | 1, request_block(HELLO_PATH)))
        self.assert_ok(conn, 1)


class FrameSize(H2TestCase):

    def test_4_2_data_of_16384_octets_accepted(self):
        """RFC 9113 §4.2: frames up to 2^14 octets MUST be received and processed (a 16384-octet DATA frame)."""
        conn = self.connect()
        block = request_block(HELLO_PATH, "POST", extra=[("content-length", "16384")])
        conn.send(headers_frame(1, block, end_stream=False), data_frame(1, b"a" * 16384, end_stream=True))
        s = conn.response(1)
        self.assertIsNotNone(s.status, "no response: %s" % conn.summary())
        self.assertTrue(conn.goaway is None, conn.summary())
        self.assertTrue(s.reset in (None, 0), "stream reset with an error: %s" % conn.summary())
        self.assertTrue(conn.ping(), conn.summary())

    def test_4_2_data_over_max_frame_size(self):
        """RFC 9113 §4.2: a DATA frame over SETTINGS_MAX_FRAME_SIZE (16385 octets) is a FRAME_SIZE_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH, "POST", extra=[("content-length", "16385")])
        conn.send(headers_frame(1, block, end_stream=False), data_frame(1, b"a" * 16385, end_stream=True))
        self.assert_stream_error(conn, 1, FRAME_SIZE_ERROR)

    def test_4_2_headers_over_max_frame_size(self):
        """RFC 9113 §4.2: a HEADERS frame over SETTINGS_MAX_FRAME_SIZE is a connection error FRAME_SIZE_ERROR
        (it carries a header block, which can alter the connection's state)."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        filler = hp_literal("x-filler", "f" * 100)
        pad = DEFAULT_MAX_FRAME + 1 - len(block) - len(filler)
        block += hp_literal("x-filler", "f" * (100 + pad - 2))
        block = block[:DEFAULT_MAX_FRAME + 1]
        self.assertEqual(len(block), DEFAULT_MAX_FRAME + 1)
        conn.send(headers_frame(1, block))
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)

    def test_4_2_settings_over_max_frame_size(self):
        """RFC 9113 §4.2: a SETTINGS frame longer than SETTINGS_MAX_FRAME_SIZE is a connection error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(settings_frame([(0xf0f0, 1)] * 2731))  # 16386 octets
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)

    def test_4_2_server_frames_within_default_max_frame_size(self):
        """RFC 9113 §4.2: the server never sends a frame over the client's SETTINGS_MAX_FRAME_SIZE (16384)."""
        conn = self.connect()
        conn.auto_window = True
        s = self.assert_ok(conn, conn.request(BIG_PATH), body=None)
        self.assertEqual(bytes(s.data), big_bytes())
        too_big = [f for f in conn.frames if len(f.payload) > DEFAULT_MAX_FRAME]
        self.assertEqual(too_big, [])

    def test_4_2_server_frames_within_larger_max_frame_size(self):
        """RFC 9113 §4.2, §6.5.2: with SETTINGS_MAX_FRAME_SIZE 65536 the server's frames stay within 65536 octets."""
        conn = self.connect(settings=[(MAX_FRAME_SIZE, 65536)])
        conn.auto_window = True
        s = self.assert_ok(conn, conn.request(BIG_PATH), body=None)
        self.assertEqual(bytes(s.data), big_bytes())
        self.assertEqual([f for f in conn.frames if len(f.payload) > 65536], [])

    def test_4_2_frame_length_field_counts_only_the_payload(self):
        """RFC 9113 §4.1: two frames back to back in one write are parsed by their Length fields."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH)) + headers_frame(3, request_block("/")))
        self.assert_ok(conn, 1, HELLO)
        self.assert_ok(conn, 3, None)


if __name__ == "__main__":
    main()
