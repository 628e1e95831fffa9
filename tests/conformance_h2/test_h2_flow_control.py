"""RFC 9113 §6.9 WINDOW_UPDATE and flow control (§6.9.1 the window, §6.9.2 the initial window size)."""

from h2conf import (BIG_PATH, DATA, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, INITIAL_WINDOW_SIZE, KILO_PATH,
                    MAX_WINDOW, PROTOCOL_ERROR, WINDOW_UPDATE, H2TestCase, big_bytes, frame, headers_frame,
                    kilo_bytes, main, request_block, settings_frame, window_update_frame)


class WindowUpdate(H2TestCase):

    def test_6_9_window_update_on_connection_accepted(self):
        """RFC 9113 §6.9: WINDOW_UPDATE on stream 0 is accepted."""
        conn = self.connect()
        conn.send(window_update_frame(0, 1000))
        self.assert_healthy(conn)
        self.assert_serves(conn)

    def test_6_9_window_update_on_stream_accepted(self):
        """RFC 9113 §6.9: WINDOW_UPDATE on an open stream is accepted and lets its DATA flow."""
        conn, sid = self.pending_response()
        conn.send(window_update_frame(sid, 2000))
        s = conn.response(sid)
        self.assertEqual(bytes(s.data), kilo_bytes())
        self.assert_no_error(conn)

    def test_6_9_zero_increment_on_connection(self):
        """RFC 9113 §6.9: an increment of 0 for the connection window is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(window_update_frame(0, 0))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_9_zero_increment_on_stream(self):
        """RFC 9113 §6.9: an increment of 0 for a stream window is a stream error PROTOCOL_ERROR."""
        conn, sid = self.pending_response()
        conn.send(window_update_frame(sid, 0))
        self.assert_stream_error(conn, sid, PROTOCOL_ERROR)

    def test_6_9_wrong_length(self):
        """RFC 9113 §6.9: a WINDOW_UPDATE of length other than 4 is a connection error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(frame(WINDOW_UPDATE, 0, 0, b"\0\0\x01\0\0"))
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)

    def test_6_9_1_connection_window_overflow(self):
        """RFC 9113 §6.9.1: a connection window above 2^31-1 is a connection error FLOW_CONTROL_ERROR."""
        conn = self.connect()
        conn.send(window_update_frame(0, MAX_WINDOW), window_update_frame(0, MAX_WINDOW))
        self.assert_connection_error(conn, FLOW_CONTROL_ERROR)

    def test_6_9_1_stream_window_overflow(self):
        """RFC 9113 §6.9.1: a stream window above 2^31-1 is a stream error FLOW_CONTROL_ERROR."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, 0)])
        conn.send(headers_frame(1, request_block(KILO_PATH)), window_update_frame(1, MAX_WINDOW),
                  window_update_frame(1, MAX_WINDOW))
        self.assert_stream_error(conn, 1, FLOW_CONTROL_ERROR)


class Window(H2TestCase):

    def test_6_9_1_window_of_one_octet(self):
        """RFC 9113 §6.9.1: with a stream window of 1 the server sends one octet, then waits for WINDOW_UPDATE."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, 1)])
        sid = conn.request(KILO_PATH)
        s = conn.stream(sid)
        self.assertTrue(conn.wait(lambda: len(s.data) >= 1 or s.done()), conn.summary())
        conn.drain()
        self.assertEqual(bytes(s.data), b"0", "more than the window was sent: %s" % conn.summary())
        conn.send(window_update_frame(sid, 1))
        self.assertTrue(conn.wait(lambda: len(s.data) >= 2), conn.summary())
        conn.drain()
        self.assertEqual(bytes(s.data), b"01")
        self.assertTrue(all(n <= 1 for n in s.data_frames), s.data_frames)

    def test_6_9_1_connection_window_respected(self):
        """RFC 9113 §6.9.1: the server sends at most the connection window (65535) until WINDOW_UPDATE on stream 0."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, MAX_WINDOW)])
        sid = conn.request(BIG_PATH)
        s = conn.stream(sid)
        conn.wait(lambda: len(s.data) >= 65535 or s.done())
        conn.drain()
        self.assertGreater(len(s.data), 0, conn.summary())
        self.assertLessEqual(len(s.data), 65535, "the connection window was overrun")
        conn.send(window_update_frame(0, 1 << 20))
        s = conn.response(sid)
        self.assertTrue(s.ended, conn.summary())
        self.assertEqual(bytes(s.data), big_bytes())

    def test_6_9_2_initial_window_change_applies_to_open_streams(self):
        """RFC 9113 §6.9.2: a new SETTINGS_INITIAL_WINDOW_SIZE adjusts the windows of open streams (0 -> 1)."""
        conn, sid = self.pending_response()
        s = conn.stream(sid)
        conn.send(settings_frame([(INITIAL_WINDOW_SIZE, 1)]))
        self.assertTrue(conn.wait(lambda: len(s.data) >= 1), conn.summary())
        conn.drain()
        self.assertEqual(bytes(s.data), b"0", conn.summary())

    def test_6_9_2_negative_window(self):
        """RFC 9113 §6.9.2: lowering SETTINGS_INITIAL_WINDOW_SIZE can make a window negative (100 sent, then
        1: -99); the server sends again only once WINDOW_UPDATEs bring it above 0."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, 100)])
        sid = conn.request(KILO_PATH)
        s = conn.stream(sid)
        self.assertTrue(conn.wait(lambda: len(s.data) >= 100), conn.summary())
        conn.send(settings_frame([(INITIAL_WINDOW_SIZE, 1)]))
        conn.drain()
        self.assertEqual(len(s.data), 100)
        conn.send(window_update_frame(sid, 99))
        conn.drain()
        self.assertEqual(len(s.data), 100, "data sent while the window was not above 0")
        conn.send(window_update_frame(sid, 1))
        self.assertTrue(conn.wait(lambda: len(s.data) >= 101), conn.summary())
        conn.drain()
        self.assertEqual(bytes(s.data), kilo_bytes()[:101])

    def test_6_9_2_initial_window_does_not_change_connection_window(self):
        """RFC 9113 §6.9.2: SETTINGS_INITIAL_WINDOW_SIZE changes stream windows only; the connection window stays 65535."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, 1 << 20)])
        sid = conn.request(BIG_PATH)
        s = conn.stream(sid)
        conn.wait(lambda: len(s.data) >= 65535 or s.done())
        conn.drain()
        self.assertLessEqual(len(s.data), 65535)
        self.assertFalse(s.done())

    def test_6_9_data_frames_count_against_the_window(self):
        """RFC 9113 §6.9.1: with WINDOW_UPDATEs for every DATA frame the whole 256 KiB file arrives intact."""
        conn = self.connect()
        conn.auto_window = True
        s = self.assert_ok(conn, conn.request(BIG_PATH), body=None)
        self.assertEqual(bytes(s.data), big_bytes())
        self.assertEqual([f for f in conn.frames if f.type == DATA and f.sid == 0], [])


if __name__ == "__main__":
    main()
