"""RFC 7541 (HPACK) as RFC 9113 §4.3 uses it: every representation the server must
decode, and the decoding errors that are connection errors COMPRESSION_ERROR."""

from h2conf import (COMPRESSION_ERROR, CONTINUATION, END_HEADERS, HEADER_TABLE_SIZE, HELLO, HELLO_PATH, INDEX, TLS,
                    H2TestCase, continuation_frame, data_frame, headers_frame, hp_indexed, hp_int, hp_literal,
                    hp_size_update, hp_str, main, ping_frame, priority_frame, request_block, PROTOCOL_ERROR)

SCHEME_INDEX = 7 if TLS else 6  # ":scheme: https" / ":scheme: http" in the static table


def head_fields():
    """:method GET and :scheme from the static table, :authority as a literal (no :path)."""
    return hp_indexed(2) + hp_indexed(SCHEME_INDEX) + hp_literal(":authority", "localhost", name_index=1)


def hello_block(field=b""):
    """A GET /HelloWorld.html block with `field` (bytes of one representation) at its end."""
    return head_fields() + hp_literal(":path", HELLO_PATH, name_index=4) + field


# (name, block, expected body): requests in every representation the server MUST accept.
ACCEPTED = [
    ("6_1_indexed_field", "§6.1 indexed header field (:path / from the static table)",
     head_fields() + hp_indexed(4), INDEX),
    ("6_2_1_incremental_indexed_name", "§6.2.1 literal with incremental indexing, indexed name",
     hello_block(hp_literal("user-agent", "h2conf", "incremental", name_index=58)), HELLO),
    ("6_2_1_incremental_indexed_name_huffman", "§6.2.1 literal with incremental indexing, indexed name, Huffman",
     hello_block(hp_literal("user-agent", "h2conf", "incremental", huffman=True, name_index=58)), HELLO),
    ("6_2_1_incremental_new_name", "§6.2.1 literal with incremental indexing, new name",
     hello_block(hp_literal("x-h2conf", "yes", "incremental")), HELLO),
    ("6_2_1_incremental_new_name_huffman", "§6.2.1 literal with incremental indexing, new name, Huffman",
     hello_block(hp_literal("x-h2conf", "yes", "incremental", huffman=True)), HELLO),
    ("6_2_2_without_indexing_indexed_name", "§6.2.2 literal without indexing, indexed name",
     hello_block(hp_literal("user-agent", "h2conf", "noindex", name_index=58)), HELLO),
    ("6_2_2_without_indexing_indexed_name_huffman", "§6.2.2 literal without indexing, indexed name, Huffman",
     hello_block(hp_literal("user-agent", "h2conf", "noindex", huffman=True, name_index=58)), HELLO),
    ("6_2_2_without_indexing_new_name", "§6.2.2 literal without indexing, new name",
     hello_block(hp_literal("x-h2conf", "yes", "noindex")), HELLO),
    ("6_2_2_without_indexing_new_name_huffman", "§6.2.2 literal without indexing, new name, Huffman",
     hello_block(hp_literal("x-h2conf", "yes", "noindex", huffman=True)), HELLO),
    ("6_2_3_never_indexed_indexed_name", "§6.2.3 literal never indexed, indexed name",
     hello_block(hp_literal("user-agent", "h2conf", "never", name_index=58)), HELLO),
    ("6_2_3_never_indexed_indexed_name_huffman", "§6.2.3 literal never indexed, indexed name, Huffman",
     hello_block(hp_literal("user-agent", "h2conf", "never", huffman=True, name_index=58)), HELLO),
    ("6_2_3_never_indexed_new_name", "§6.2.3 literal never indexed, new name",
     hello_block(hp_literal("x-h2conf", "yes", "never")), HELLO),
    ("6_2_3_never_indexed_new_name_huffman", "§6.2.3 literal never indexed, new name, Huffman",
     hello_block(hp_literal("x-h2conf", "yes", "never", huffman=True)), HELLO),
    ("6_3_size_update_to_zero", "§6.3 dynamic table size update (to 0) at the start of a block",
     hp_size_update(0) + hello_block(), HELLO),
    ("6_3_two_size_updates", "§4.2 two dynamic table size updates at the start of a block (0, then 4096)",
     hp_size_update(0) + hp_size_update(4096) + hello_block(), HELLO),
    ("5_1_integer_with_continuation_bytes", "§5.1 a string length that needs continuation octets (200-octet value)",
     hello_block(hp_literal("x-h2conf", "v" * 200)), HELLO),
    ("5_1_integer_with_redundant_zero_continuation", "§5.1 a header index sent as 15 + 43 (0x0f 0x2b: user-agent)",
     hello_block(b"\x0f\x2b" + hp_str("h2conf")), HELLO),
]

# (name, what, block): decoding errors (RFC 9113 §4.3: a connection error COMPRESSION_ERROR).
MALFORMED = [
    ("6_1_index_zero", "§6.1 an indexed header field with index 0", hello_block(b"\x80")),
    ("2_3_3_index_past_the_tables", "§2.3.3 an index past the static table with an empty dynamic table",
     hello_block(hp_indexed(70))),
    ("2_3_3_name_index_past_the_tables", "§2.3.3 a literal whose name index is past both tables",
     hello_block(hp_int(70, 4, 0) + hp_str("v"))),
    ("4_2_size_update_at_the_end", "§4.2 a dynamic table size update at the end of the block",
     hello_block(hp_size_update(0))),
    ("4_2_size_update_after_a_field", "§4.2 a dynamic table size update after the first field",
     hp_indexed(2) + hp_size_update(0) + hp_indexed(SCHEME_INDEX) + hp_literal(":authority", "localhost", name_index=1)
     + hp_literal(":path", HELLO_PATH, name_index=4)),
    ("5_2_huffman_padding_over_7_bits", "§5.2 Huffman padding longer than 7 bits ('a' then 11 one-bits)",
     hello_block(b"\x0f\x2b\x82\x1f\xff")),
    ("5_2_huffman_padded_with_zeros", "§5.2 Huffman padding that is not the EOS prefix ('a' then 000)",
     hello_block(b"\x0f\x2b\x81\x18")),
    ("5_2_huffman_with_eos", "§5.2 a Huffman string containing the EOS symbol",
     hello_block(b"\x0f\x2b\x85\x1f\xff\xff\xff\xff")),
    ("5_2_string_longer_than_the_block", "§5.2 a string length past the end of the block",
     hello_block(b"\x0f\x2b" + hp_int(100, 7, 0) + b"abc")),
    ("5_1_integer_overflow", "§5.1 an index integer of 11 continuation octets (over 2^64)",
     hello_block(b"\xff" + b"\xff" * 10 + b"\x01")),
    ("5_1_truncated_integer", "§5.1 a block ending inside a multi-octet integer", hello_block(b"\xff\x80")),
]


class Accepted(H2TestCase):
    """Each block is a GET; the server MUST decode it and answer 200."""


def _add_accepted(name, what, block, body):
    def test(self):
        conn = self.connect()
        conn.send(headers_frame(1, block))
        self.assert_ok(conn, 1, body)
        self.assert_no_error(conn)
    test.__name__ = "test_" + name
    test.__doc__ = "RFC 7541 %s: MUST be decoded; the request is answered." % what
    setattr(Accepted, test.__name__, test)


for _case in ACCEPTED:
    _add_accepted(*_case)


class Malformed(H2TestCase):
    """Each block fails to decode: a connection error COMPRESSION_ERROR (RFC 9113 §4.3)."""

    def test_6_3_size_update_over_the_advertised_size(self):
        """RFC 7541 §6.3, §4.2: a size update over SETTINGS_HEADER_TABLE_SIZE (as the server advertised it,
        4096 by default) is a decoding error: COMPRESSION_ERROR."""
        conn = self.connect()
        limit = conn.server_settings.get(HEADER_TABLE_SIZE, 4096)
        conn.send(headers_frame(1, hp_size_update(limit + 1) + hello_block()))
        self.assert_connection_error(conn, COMPRESSION_ERROR)

    def test_4_4_evicted_entry_referenced(self):
        """RFC 7541 §4.3, §2.3.3: after a size update to 0 empties the dynamic table, index 62 is invalid."""
        conn = self.connect()
        conn.send(headers_frame(1, hello_block(hp_literal("x-h2conf", "one", "incremental"))))
        self.assert_ok(conn, 1)
        conn.send(headers_frame(3, hp_size_update(0) + hello_block(hp_indexed(62))))
        self.assert_connection_error(conn, COMPRESSION_ERROR)


def _add_malformed(name, what, block):
    def test(self):
        conn = self.connect()
        conn.send(headers_frame(1, block))
        self.assert_connection_error(conn, COMPRESSION_ERROR)
    test.__name__ = "test_" + name
    test.__doc__ = "RFC 7541 %s: a decoding error, connection error COMPRESSION_ERROR (RFC 9113 §4.3)." % what
    setattr(Malformed, test.__name__, test)


for _case in MALFORMED:
    _add_malformed(*_case)


class HeaderBlocks(H2TestCase):
    """RFC 9113 §4.3: a header block is one unit, decoded in order, with nothing between its frames."""

    def test_2_3_2_dynamic_table_entry_reused(self):
        """RFC 7541 §2.3.2, §6.2.1: an entry the client added to the dynamic table is used by the next request."""
        conn = self.connect()
        conn.send(headers_frame(1, hello_block(hp_literal("x-h2conf", "one", "incremental"))))
        self.assert_ok(conn, 1)
        conn.send(headers_frame(3, hello_block(hp_indexed(62))))
        self.assert_ok(conn, 3)
        self.assert_no_error(conn)

    def test_4_3_field_split_across_continuation(self):
        """RFC 9113 §4.3: a block split inside a string literal across HEADERS and CONTINUATION decodes as one."""
        conn = self.connect()
        block = hello_block(hp_literal("x-h2conf", "split-here-across-frames"))
        cut = len(block) - 10
        conn.send(headers_frame(1, block[:cut], end_headers=False), continuation_frame(1, block[cut:]))
        self.assert_ok(conn, 1)

    def test_4_3_priority_inside_header_block(self):
        """RFC 9113 §4.3: a PRIORITY frame between HEADERS and CONTINUATION is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:4], end_headers=False), priority_frame(1),
                  continuation_frame(1, block[4:]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_4_3_headers_for_another_stream_inside_header_block(self):
        """RFC 9113 §4.3: HEADERS for stream 3 while stream 1's block is open is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:4], end_headers=False), headers_frame(3, request_block(HELLO_PATH)),
                  continuation_frame(1, block[4:]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_4_3_data_inside_header_block(self):
        """RFC 9113 §4.3: a DATA frame inside a header block is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:4], end_stream=False, end_headers=False), data_frame(1, b"x"),
                  continuation_frame(1, block[4:]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)

    def test_4_3_ping_inside_header_block(self):
        """RFC 9113 §4.3: a frame on stream 0 (PING) inside a header block is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        block = request_block(HELLO_PATH)
        conn.send(headers_frame(1, block[:4], end_headers=False), ping_frame(), continuation_frame(1, block[4:]))
        self.assert_connection_error(conn, PROTOCOL_ERROR)
        self.assertEqual(conn.ping_acks, [], "the PING inside the header block was answered")

    def test_4_2_server_honours_header_table_size_zero(self):
        """RFC 7541 §4.2: after the client's SETTINGS_HEADER_TABLE_SIZE 0 is acknowledged, the server's next
        block starts with a size update to 0 and its responses never leave an entry in the client's table."""
        conn = self.connect(settings=[(HEADER_TABLE_SIZE, 0)])
        conn.decoder.max_allowed_table_size = 0
        conn.decoder.header_table.maxsize = 0
        for sid in (1, 3, 5):
            conn.send(headers_frame(sid, hello_block()))
            self.assert_ok(conn, sid)
        blocks = [f for f in conn.frames if f.type == 1]
        self.assertTrue(blocks, conn.summary())
        first = blocks[0].payload
        self.assertEqual(first[0] & 0xe0, 0x20, "the first response block does not start with a size update")
        self.assertEqual(len(conn.decoder.header_table.dynamic_entries), 0)
        self.assert_no_error(conn)


if __name__ == "__main__":
    main()
