"""The server's limits against known HTTP/2 attacks (issue 14), with the RFC 9113 rule each rests on.

Every number these cases depend on is a constant below: change one here when the server's
limit changes. A case that probes a limit checks both sides of it where it can (at the
limit: served; past it: refused).
"""

import time

from h2conf import (CANCEL, COMPRESSION_ERROR, ENHANCE_YOUR_CALM, HEADER_TABLE_SIZE, HELLO, HELLO_PATH,
                    INITIAL_WINDOW_SIZE, KILO_PATH, MAX_CONCURRENT_STREAMS, PROTOCOL_ERROR, REFUSED_STREAM, WAIT,
                    H2TestCase, block_of, continuation_frame, field_list_size, headers_frame, hp_indexed,
                    hp_literal, hp_size_update, main, ping_frame, request_block, request_fields, rst_frame,
                    settings_frame, split_block)

# --- the server's limits (issue 14; docs/design.md, the HTTP/2 section) ----------------
LIMIT_CONCURRENT_STREAMS = 100        # SETTINGS_MAX_CONCURRENT_STREAMS advertised
LIMIT_HEADER_LIST = 16384             # header list size (name + value + 32 a field): above it, 431
LIMIT_FIELDS = 100                    # fields in one request: above it, 431
LIMIT_CONTINUATIONS = 8               # CONTINUATION frames in one block: above it, GOAWAY ENHANCE_YOUR_CALM
LIMIT_HEADER_BLOCK = 64 * 1024        # octets in one header block: above it, GOAWAY ENHANCE_YOUR_CALM
LIMIT_RAPID_RESET_BURST = 200         # streams opened and reset at once (refilled at 100/s)
LIMIT_CONTROL_BURST = 1000            # PING / SETTINGS frames at once (refilled at 500/s)
LIMIT_HEADER_TABLE_SIZE = 4096        # SETTINGS_HEADER_TABLE_SIZE (advertised, or the default)


def list_of_size(size, value_len=1000):
    """A GET's field list (pseudo-headers included) of exactly `size` octets as §6.5.2 counts them."""
    fields = request_fields(HELLO_PATH)
    i = 0
    while field_list_size(fields) + 32 + 8 + value_len < size:
        fields.append(("x-pad-%02d" % i, "v" * value_len))
        i += 1
    rest = size - field_list_size(fields) - 32 - len("x-last")
    assert rest >= 0
    fields.append(("x-last", "w" * rest))
    assert field_list_size(fields) == size
    return fields


class Limits(H2TestCase):

    def send_block(self, conn, sid, block):
        """Sends a header block in as few frames as the frame size allows (at most 8 CONTINUATIONs)."""
        pieces = max(1, -(-len(block) // 16384))
        self.assertLessEqual(pieces, LIMIT_CONTINUATIONS + 1)
        conn.send(split_block(sid, block, pieces))

    def assert_431(self, conn, sid):
        s = conn.response(sid)
        self.assertEqual(s.status, 431, conn.summary())
        self.assertIsNone(conn.goaway, conn.summary())
        self.assertIn(s.reset, (None, 0), "reset instead of (or after) a 431: %s" % conn.summary())
        self.assert_ok(conn, conn.request(HELLO_PATH))

    # concurrency

    def test_5_1_2_advertises_100_concurrent_streams(self):
        """RFC 9113 §6.5.2: the server advertises SETTINGS_MAX_CONCURRENT_STREAMS 100."""
        conn = self.connect()
        self.assertEqual(conn.server_settings.get(MAX_CONCURRENT_STREAMS), LIMIT_CONCURRENT_STREAMS)

    def test_5_1_2_stream_101_refused(self):
        """RFC 9113 §5.1.2: with 100 streams open, the 101st is refused (REFUSED_STREAM or PROTOCOL_ERROR),
        and, if that was a stream error, the 100 are answered. §5.4.1 lets an endpoint treat a
        stream error as a connection error: nghttp2 does so (GOAWAY PROTOCOL_ERROR) once the
        client has acknowledged the limit, and then the 100 are cut off with the connection."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, 0)])
        sids = [2 * i + 1 for i in range(LIMIT_CONCURRENT_STREAMS + 1)]
        conn.send(*[headers_frame(sid, request_block(KILO_PATH)) for sid in sids])
        self.assert_stream_error(conn, sids[-1], REFUSED_STREAM, PROTOCOL_ERROR)
        if conn.goaway is not None:
            self.assertEqual(conn.goaway[1], PROTOCOL_ERROR, conn.summary())
            self.assertEqual(conn.goaway[0], sids[-2], "GOAWAY names the last stream accepted")
            return
        ok = conn.wait(lambda: all(conn.stream(s).headers is not None for s in sids[:-1]))
        self.assertTrue(ok, conn.summary())
        self.assertEqual([s for s in sids[:-1] if conn.stream(s).status != 200], [])

    # header list size and field count: 431 on the stream

    def test_6_5_2_header_list_at_limit_served(self):
        """RFC 9113 §6.5.2: a header list of exactly 16384 octets (name + value + 32 each) is served."""
        conn = self.connect()
        self.send_block(conn, 1, block_of(list_of_size(LIMIT_HEADER_LIST)))
        self.assert_ok(conn, 1, HELLO)

    def test_6_5_2_header_list_over_limit_is_431(self):
        """RFC 9113 §6.5.2, RFC 6585 §5: a header list of 16385 octets gets a 431 on its stream (not a reset)."""
        conn = self.connect()
        self.send_block(conn, 1, block_of(list_of_size(LIMIT_HEADER_LIST + 1)))
        self.assert_431(conn, 1)

    def test_6_5_2_fields_at_limit_served(self):
        """RFC 6585 §5: 100 fields in all (4 pseudo-header fields, 96 others) are served."""
        conn = self.connect()
        fields = request_fields(HELLO_PATH, extra=[("x-f%03d" % i, "1") for i in range(LIMIT_FIELDS - 4)])
        self.assertEqual(len(fields), LIMIT_FIELDS)
        self.send_block(conn, 1, block_of(fields))
        self.assert_ok(conn, 1, HELLO)

    def test_6_5_2_fields_over_limit_is_431(self):
        """RFC 6585 §5: 101 regular fields (105 with the pseudo-header fields) get a 431 on the stream."""
        conn = self.connect()
        fields = request_fields(HELLO_PATH, extra=[("x-f%03d" % i, "1") for i in range(LIMIT_FIELDS + 1)])
        self.send_block(conn, 1, block_of(fields))
        self.assert_431(conn, 1)

    def test_7541_7_3_table_bomb_is_431(self):
        """RFC 7541 §7.3, RFC 9113 §6.5.2: a 4000-octet dynamic table entry referenced 5 times (a block of a
        few octets decoding to 20 KB) exceeds the header list size: 431, not memory."""
        conn = self.connect()
        base = request_block(HELLO_PATH)
        self.send_block(conn, 1, base + hp_literal("x-bomb", "b" * 4000, "incremental"))
        self.assert_ok(conn, 1, HELLO)
        self.send_block(conn, 3, base + hp_indexed(62) * 5)
        self.assert_431(conn, 3)

    # CONTINUATION chains and header block size: GOAWAY ENHANCE_YOUR_CALM

    def test_6_10_eight_continuations_served(self):
        """RFC 9113 §6.10: a header block in HEADERS and 8 CONTINUATION frames is served."""
        conn = self.connect()
        conn.send(split_block(1, request_block(HELLO_PATH), LIMIT_CONTINUATIONS + 1))
        self.assert_ok(conn, 1, HELLO)

    def test_6_10_nine_continuations_calm(self):
        """RFC 9113 §6.10, §10.5 (CVE-2024-27316 family): 9 CONTINUATION frames in one block: GOAWAY
        ENHANCE_YOUR_CALM."""
        conn = self.connect()
        conn.send(split_block(1, request_block(HELLO_PATH), LIMIT_CONTINUATIONS + 2))
        self.assert_connection_error(conn, ENHANCE_YOUR_CALM)

    def test_6_10_empty_continuation_flood_calm(self):
        """RFC 9113 §10.5: a HEADERS followed by a stream of empty CONTINUATION frames: GOAWAY ENHANCE_YOUR_CALM."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), end_headers=False),
                  *[continuation_frame(1, b"", end_headers=False) for _ in range(100)])
        self.assert_connection_error(conn, ENHANCE_YOUR_CALM)

    def test_10_5_header_block_over_64k_calm(self):
        """RFC 9113 §10.5: a header block over 64 KiB (5 frames of 16384 octets): GOAWAY ENHANCE_YOUR_CALM."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        i = 0
        while len(block) <= LIMIT_HEADER_BLOCK + 1000:
            block += hp_literal("x-big-%03d" % i, "z" * 4000)
            i += 1
        pieces = -(-len(block) // 16384)
        self.assertLessEqual(pieces, LIMIT_CONTINUATIONS + 1)
        conn.send(split_block(1, block, pieces))
        self.assert_connection_error(conn, ENHANCE_YOUR_CALM)

    def test_10_5_header_block_under_64k_is_431(self):
        """RFC 9113 §10.5, §6.5.2: a 48 KiB header block (under the block limit, over the list size) gets a 431."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        i = 0
        while len(block) < 48 * 1024:
            block += hp_literal("x-big-%03d" % i, "z" * 4000)
            i += 1
        self.send_block(conn, 1, block)
        self.assert_431(conn, 1)

    # rapid reset (CVE-2023-44487)

    def test_10_5_rapid_reset_calm(self):
        """RFC 9113 §10.5 (CVE-2023-44487): 300 streams opened and reset at once: GOAWAY ENHANCE_YOUR_CALM."""
        conn = self.connect()
        n = LIMIT_RAPID_RESET_BURST * 3 // 2
        conn.send(*[headers_frame(2 * i + 1, request_block(HELLO_PATH)) + rst_frame(2 * i + 1, CANCEL)
                    for i in range(n)])
        self.assert_connection_error(conn, ENHANCE_YOUR_CALM, timeout=2 * WAIT)

    def test_10_5_resets_under_the_burst_tolerated(self):
        """RFC 9113 §10.5: 100 streams opened and reset at once (half the burst) leave the connection serving."""
        conn = self.connect()
        n = LIMIT_RAPID_RESET_BURST // 2
        conn.send(*[headers_frame(2 * i + 1, request_block(HELLO_PATH)) + rst_frame(2 * i + 1, CANCEL)
                    for i in range(n)])
        self.assertTrue(conn.ping(), conn.summary())
        self.assertIsNone(conn.goaway, conn.summary())
        self.assert_ok(conn, conn.request(HELLO_PATH, sid=2 * n + 1))

    # control-frame floods

    def assert_calm_or_closed(self, conn):
        conn.wait(lambda: conn.goaway is not None or conn.closed, 2 * WAIT)
        self.assertTrue(conn.goaway is not None or conn.closed, "flood tolerated: %s" % conn.summary())
        if conn.goaway is not None:
            self.assertEqual(conn.goaway[1], ENHANCE_YOUR_CALM, conn.summary())

    def test_10_5_ping_flood_calm(self):
        """RFC 9113 §10.5: 2000 PINGs at once: GOAWAY ENHANCE_YOUR_CALM (or the connection closed)."""
        conn = self.connect()
        conn.send(*[ping_frame(b"%08d" % i) for i in range(2 * LIMIT_CONTROL_BURST)])
        self.assert_calm_or_closed(conn)

    def test_10_5_settings_flood_calm(self):
        """RFC 9113 §10.5: 2000 SETTINGS frames at once: GOAWAY ENHANCE_YOUR_CALM (or the connection closed)."""
        conn = self.connect()
        conn.send(*[settings_frame() for _ in range(2 * LIMIT_CONTROL_BURST)])
        self.assert_calm_or_closed(conn)

    def test_10_5_pings_under_the_burst_answered(self):
        """RFC 9113 §6.7, §10.5: 500 PINGs at once (half the burst) are all acknowledged, no GOAWAY."""
        conn = self.connect()
        n = LIMIT_CONTROL_BURST // 2
        conn.send(*[ping_frame(b"%08d" % i) for i in range(n)])
        conn.wait(lambda: len(conn.ping_acks) >= n)
        self.assertEqual(len(conn.ping_acks), n, conn.summary())
        self.assertIsNone(conn.goaway, conn.summary())

    def test_10_5_pings_refilled_over_time(self):
        """RFC 9113 §10.5: 1500 PINGs in three batches of 500, half a second apart (within the refill of
        500/s), are all acknowledged."""
        conn = self.connect()
        for batch in range(3):
            conn.send(*[ping_frame(b"%d%07d" % (batch, i)) for i in range(LIMIT_CONTROL_BURST // 2)])
            conn.wait(lambda: len(conn.ping_acks) >= (batch + 1) * LIMIT_CONTROL_BURST // 2)
            time.sleep(0.5)
        self.assertEqual(len(conn.ping_acks), 3 * LIMIT_CONTROL_BURST // 2, conn.summary())
        self.assertIsNone(conn.goaway, conn.summary())

    # HPACK table size

    def test_6_5_2_advertised_header_table_size(self):
        """RFC 9113 §6.5.2: the server's SETTINGS_HEADER_TABLE_SIZE is 4096 (sent, or the default)."""
        conn = self.connect()
        self.assertEqual(conn.server_settings.get(HEADER_TABLE_SIZE, 4096), LIMIT_HEADER_TABLE_SIZE)

    def test_7541_6_3_size_update_over_4096(self):
        """RFC 7541 §6.3: a dynamic table size update to 4097 (over the 4096 advertised): COMPRESSION_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(1, hp_size_update(LIMIT_HEADER_TABLE_SIZE + 1) + request_block(HELLO_PATH)))
        self.assert_connection_error(conn, COMPRESSION_ERROR)

    def test_7541_6_3_size_update_to_4096_accepted(self):
        """RFC 7541 §6.3: a dynamic table size update to exactly 4096 is accepted."""
        conn = self.connect()
        conn.send(headers_frame(1, hp_size_update(LIMIT_HEADER_TABLE_SIZE) + request_block(HELLO_PATH)))
        self.assert_ok(conn, 1, HELLO)


if __name__ == "__main__":
    main()
