"""RFC 9113 §6.5 SETTINGS (format, defined parameters, synchronization), §6.7 PING, §6.8 GOAWAY."""

import struct

from h2conf import (ACK, ENABLE_PUSH, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY, HEADER_TABLE_SIZE, HELLO_PATH,
                    INITIAL_WINDOW_SIZE, KILO_PATH, MAX_FRAME_SIZE, MAX_WINDOW, NO_ERROR, PING, PROTOCOL_ERROR,
                    SETTINGS, H2TestCase, frame, goaway_frame, headers_frame, kilo_bytes, main, ping_frame,
                    request_block, settings_frame)


class SettingsFormat(H2TestCase):

    def test_6_5_settings_acknowledged(self):
        """RFC 9113 §6.5.3: a SETTINGS frame without ACK is answered by an empty SETTINGS with ACK."""
        conn = self.connect()
        acks = conn.settings_acks
        conn.send(settings_frame([(INITIAL_WINDOW_SIZE, 65535)]))
        self.assertTrue(conn.wait(lambda: conn.settings_acks > acks), conn.summary())
        ack = [f for f in conn.frames if f.type == SETTINGS and f.flags & ACK][-1]
        self.assertEqual(ack.payload, b"")
        self.assertEqual(ack.sid, 0)

    def test_6_5_empty_settings_acknowledged(self):
        """RFC 9113 §6.5: an empty SETTINGS frame is valid and acknowledged."""
        conn = self.connect()
        acks = conn.settings_acks
        conn.send(settings_frame())
        self.assertTrue(conn.wait(lambda: conn.settings_acks > acks), conn.summary())
        self.assert_healthy(conn)

    def test_6_5_settings_ack_with_payload(self):
        """RFC 9113 §6.5: a SETTINGS ACK with a payload is a connection error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(frame(SETTINGS, ACK, 0, struct.pack(">HI", INITIAL_WINDOW_SIZE, 65535)))
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)

    def test_6_5_settings_on_a_stream(self):
        """RFC 9113 §6.5: SETTINGS on a stream other than 0 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(frame(SETTINGS, 0, 1, struct.pack(">HI", INITIAL_WINDOW_SIZE, 65535)))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_5_settings_length_not_multiple_of_6(self):
        """RFC 9113 §6.5: a SETTINGS length that is not a multiple of 6 is a connection error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(frame(SETTINGS, 0, 0, struct.pack(">HI", INITIAL_WINDOW_SIZE, 65535) + b"\0\0\0"))
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)


class DefinedParameters(H2TestCase):
    """RFC 9113 §6.5.2."""

    def test_6_5_2_enable_push_invalid_value(self):
        """RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(settings_frame([(ENABLE_PUSH, 2)]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_5_2_enable_push_valid_values(self):
        """RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH 0 and 1 are accepted."""
        conn = self.connect(settings=[(ENABLE_PUSH, 1)])
        conn.send(settings_frame([(ENABLE_PUSH, 0)]))
        self.assert_healthy(conn)
        self.assert_serves(conn)

    def test_6_5_2_initial_window_size_too_large(self):
        """RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a connection error FLOW_CONTROL_ERROR."""
        conn = self.connect()
        conn.send(settings_frame([(INITIAL_WINDOW_SIZE, MAX_WINDOW + 1)]))
        self.assert_connection_error(conn, FLOW_CONTROL_ERROR)

    def test_6_5_2_initial_window_size_maximum_accepted(self):
        """RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE of exactly 2^31-1 is accepted."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, MAX_WINDOW)])
        self.assert_serves(conn)

    def test_6_5_2_max_frame_size_too_small(self):
        """RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE below 16384 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(settings_frame([(MAX_FRAME_SIZE, 16383)]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_5_2_max_frame_size_too_large(self):
        """RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE above 2^24-1 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(settings_frame([(MAX_FRAME_SIZE, 1 << 24)]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_5_2_max_frame_size_maximum_accepted(self):
        """RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE of 2^24-1 is accepted."""
        conn = self.connect(settings=[(MAX_FRAME_SIZE, (1 << 24) - 1)])
        self.assert_serves(conn)

    def test_6_5_2_unknown_setting_ignored(self):
        """RFC 9113 §6.5.2, §5.5: a SETTINGS parameter with an unknown identifier is ignored (and the frame acked)."""
        conn = self.connect()
        acks = conn.settings_acks
        conn.send(settings_frame([(0xbeef, 12345), (0x10, 0)]))
        self.assertTrue(conn.wait(lambda: conn.settings_acks > acks), conn.summary())
        self.assert_healthy(conn)
        self.assert_serves(conn)

    def test_6_5_2_header_table_size_accepted(self):
        """RFC 9113 §6.5.2: any SETTINGS_HEADER_TABLE_SIZE is valid (here 65536)."""
        conn = self.connect(settings=[(HEADER_TABLE_SIZE, 65536)])
        self.assert_serves(conn)
        self.assert_serves(conn)

    def test_6_5_2_server_settings_valid(self):
        """RFC 9113 §6.5.2, §8.4: the server's own SETTINGS are in range and never enable push."""
        conn = self.connect()
        st = conn.server_settings
        self.assertNotEqual(st.get(ENABLE_PUSH), 1, "a server MUST NOT send SETTINGS_ENABLE_PUSH 1")
        self.assertLessEqual(st.get(INITIAL_WINDOW_SIZE, 65535), MAX_WINDOW)
        self.assertTrue(16384 <= st.get(MAX_FRAME_SIZE, 16384) < (1 << 24), st)


class Synchronization(H2TestCase):
    """RFC 9113 §6.5.3."""

    def test_6_5_3_values_processed_in_order(self):
        """RFC 9113 §6.5.3: values in one SETTINGS frame are processed in order: INITIAL_WINDOW_SIZE 100 then 1
        leaves 1, so the response comes one octet per DATA frame."""
        conn = self.connect()
        conn.send(settings_frame([(INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1)]))
        self.assertTrue(conn.wait(lambda: conn.settings_acks >= 2), conn.summary())
        sid = conn.request(KILO_PATH)
        s = conn.stream(sid)
        self.assertTrue(conn.wait(lambda: len(s.data) >= 1 or s.done()), conn.summary())
        conn.drain()
        self.assertEqual(bytes(s.data), b"0", conn.summary())


class Ping(H2TestCase):
    """RFC 9113 §6.7."""

    def test_6_7_ping_acknowledged_with_same_payload(self):
        """RFC 9113 §6.7: a PING is answered by a PING with ACK and the identical payload."""
        conn = self.connect()
        conn.send(ping_frame(b"\x00\x01\x02\x03\xfc\xfd\xfe\xff"))
        self.assertTrue(conn.wait(lambda: conn.ping_acks), conn.summary())
        self.assertEqual(conn.ping_acks, [b"\x00\x01\x02\x03\xfc\xfd\xfe\xff"])
        ack = [f for f in conn.frames if f.type == PING][0]
        self.assertEqual((ack.sid, ack.flags & ACK), (0, ACK))

    def test_6_7_ping_ack_not_answered(self):
        """RFC 9113 §6.7: a PING with ACK MUST NOT be answered."""
        conn = self.connect()
        conn.send(ping_frame(b"ackackac", ack=True), ping_frame(b"realping"))
        self.assertTrue(conn.wait(lambda: b"realping" in conn.ping_acks), conn.summary())
        conn.drain()
        self.assertEqual(conn.ping_acks, [b"realping"])

    def test_6_7_pings_answered_in_order(self):
        """RFC 9113 §6.7: ten PINGs in one write get ten ACKs with their payloads, in order."""
        conn = self.connect()
        payloads = [b"ping-%03d" % i for i in range(10)]
        conn.send(*[ping_frame(p) for p in payloads])
        self.assertTrue(conn.wait(lambda: len(conn.ping_acks) >= 10), conn.summary())
        self.assertEqual(conn.ping_acks, payloads)

    def test_6_7_ping_on_a_stream(self):
        """RFC 9113 §6.7: PING on a stream other than 0 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(ping_frame(sid=1))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_7_ping_too_short(self):
        """RFC 9113 §6.7: a PING of length other than 8 (here 6) is a connection error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(frame(PING, 0, 0, b"123456"))
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)

    def test_6_7_ping_too_long(self):
        """RFC 9113 §6.7: a PING of length other than 8 (here 9) is a connection error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(frame(PING, 0, 0, b"123456789"))
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)


class Goaway(H2TestCase):
    """RFC 9113 §6.8."""

    def test_6_8_goaway_accepted(self):
        """RFC 9113 §6.8: the client's GOAWAY(NO_ERROR) is accepted: any GOAWAY in return says NO_ERROR,
        and the server then closes the connection or still answers PING."""
        conn = self.connect()
        self.assert_ok(conn, conn.request(HELLO_PATH))
        conn.send(goaway_frame(0, NO_ERROR), ping_frame(b"aftergoa"))
        conn.wait(lambda: b"aftergoa" in conn.ping_acks)
        self.assertTrue(b"aftergoa" in conn.ping_acks or conn.closed, conn.summary())
        self.assertTrue(conn.goaway is None or conn.goaway[1] == NO_ERROR, conn.summary())

    def test_6_8_request_before_goaway_answered(self):
        """RFC 9113 §6.8: a stream the client opened before its GOAWAY is still answered (the GOAWAY's
        last stream id, 0, names the server-initiated streams the client took: none)."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(KILO_PATH)), goaway_frame(0, NO_ERROR))
        s = self.assert_ok(conn, 1, kilo_bytes())
        self.assertTrue(s.ended)

    def test_6_8_goaway_on_a_stream(self):
        """RFC 9113 §6.8: GOAWAY on a stream other than 0 is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(goaway_frame(0, NO_ERROR, sid=1))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_6_8_goaway_too_short(self):
        """RFC 9113 §6.8, §4.2: a GOAWAY shorter than 8 octets is a connection error FRAME_SIZE_ERROR."""
        conn = self.connect()
        conn.send(frame(GOAWAY, 0, 0, b"\0\0\0\0"))
        self.assert_connection_error(conn, FRAME_SIZE_ERROR)

    def test_6_8_goaway_with_debug_data_accepted(self):
        """RFC 9113 §6.8: GOAWAY with additional debug data is valid (no error in return)."""
        conn = self.connect()
        conn.send(goaway_frame(0, NO_ERROR, b"client going away: debug data"))
        conn.drain()
        self.assertTrue(conn.goaway is None or conn.goaway[1] == NO_ERROR, conn.summary())


if __name__ == "__main__":
    main()
