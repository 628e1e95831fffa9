"""RFC 9113 §8: HTTP message exchange over HTTP/2: field validity (§8.2), connection-specific
fields (§8.2.2), request pseudo-header fields (§8.3.1), malformed messages and content-length
(§8.1.1), trailers (§8.1), server push from a client (§8.4)."""

from h2conf import (HELLO, HELLO_PATH, PROTOCOL_ERROR, PUSH_PROMISE, TLS, H2TestCase, block_of, data_frame, frame,
                    headers_frame, main, request_block, request_fields)

SCHEME = "https" if TLS else "http"


def fields_without(name):
    return [(n, v) for n, v in request_fields(HELLO_PATH) if n != name]


def fields_with(name, value, front=False):
    fields = request_fields(HELLO_PATH)
    if front:
        return [(name, value)] + fields
    return fields[:3] + [(name, value)] + fields[3:]


# (name, RFC section, what, field list): each request is malformed: a stream error PROTOCOL_ERROR.
MALFORMED = [
    ("uppercase_field_name", "§8.2.1", "a field name with uppercase letters",
     request_fields(extra=[("X-Upper", "1")])),
    ("field_name_with_space", "§8.2.1", "a field name containing a space", request_fields(extra=[("x y", "1")])),
    ("field_name_with_colon", "§8.2.1", "a regular field name containing a colon", request_fields(extra=[("x:y", "1")])),
    ("empty_field_name", "§8.2.1", "an empty field name", request_fields(extra=[("", "1")])),
    ("field_value_with_crlf", "§8.2.1", "a field value containing CR LF",
     request_fields(extra=[("x-a", "1\r\nx-b: 2")])),
    ("field_value_with_lf", "§8.2.1", "a field value containing LF", request_fields(extra=[("x-a", "1\n2")])),
    ("field_value_with_nul", "§8.2.1", "a field value containing NUL", request_fields(extra=[("x-a", "1\x002")])),
    ("field_value_leading_space", "§8.2.1", "a field value starting with a space",
     request_fields(extra=[("x-a", " 1")])),
    ("field_value_trailing_tab", "§8.2.1", "a field value ending with a tab", request_fields(extra=[("x-a", "1\t")])),
    ("connection", "§8.2.2", "the connection-specific field Connection",
     request_fields(extra=[("connection", "keep-alive")])),
    ("keep_alive", "§8.2.2", "the connection-specific field Keep-Alive",
     request_fields(extra=[("keep-alive", "timeout=5")])),
    ("proxy_connection", "§8.2.2", "the connection-specific field Proxy-Connection",
     request_fields(extra=[("proxy-connection", "keep-alive")])),
    ("transfer_encoding", "§8.2.2", "the connection-specific field Transfer-Encoding",
     request_fields(extra=[("transfer-encoding", "chunked")])),
    ("upgrade", "§8.2.2", "the connection-specific field Upgrade", request_fields(extra=[("upgrade", "h2c")])),
    ("te_gzip", "§8.2.2", "TE with a value other than \"trailers\"", request_fields(extra=[("te", "gzip")])),
    ("te_trailers_and_more", "§8.2.2", "TE: trailers, deflate (more than \"trailers\")",
     request_fields(extra=[("te", "trailers, deflate")])),
    ("unknown_pseudo_header", "§8.3", "an unknown pseudo-header field :foo", fields_with(":foo", "bar")),
    ("response_pseudo_header", "§8.3", "the response pseudo-header field :status in a request",
     fields_with(":status", "200")),
    ("pseudo_header_after_regular", "§8.3", "a pseudo-header field after a regular field",
     fields_without(":authority") + [("user-agent", "h2conf"), (":authority", "localhost")]),
    ("empty_path", "§8.3.1", "an empty :path", [(":method", "GET"), (":scheme", SCHEME), (":path", ""),
                                                 (":authority", "localhost")]),
    ("path_not_absolute", "§8.3.1", "a :path that is neither origin-form nor \"*\"",
     [(":method", "GET"), (":scheme", SCHEME), (":path", "HelloWorld.html"), (":authority", "localhost")]),
    ("missing_method", "§8.3.1", "no :method", fields_without(":method")),
    ("missing_scheme", "§8.3.1", "no :scheme", fields_without(":scheme")),
    ("missing_path", "§8.3.1", "no :path", fields_without(":path")),
    ("duplicate_method", "§8.3.1", "two :method fields", fields_with(":method", "GET", front=True)),
    ("duplicate_scheme", "§8.3.1", "two :scheme fields", fields_with(":scheme", SCHEME, front=True)),
    ("duplicate_path", "§8.3.1", "two :path fields", fields_with(":path", HELLO_PATH, front=True)),
]


class Malformed(H2TestCase):
    """RFC 9113 §8.1.1: a malformed request is a stream error PROTOCOL_ERROR (a response may come first)."""


def _add_malformed(name, section, what, fields):
    def test(self):
        conn = self.connect()
        conn.send(headers_frame(1, block_of(fields)))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)
        s = conn.stream(1)
        self.assertNotEqual(s.status, 200, "a malformed request was served: %s" % conn.summary())
    test.__name__ = "test_8_%s" % name
    test.__doc__ = "RFC 9113 %s: %s makes the request malformed: stream error PROTOCOL_ERROR." % (section, what)
    setattr(Malformed, test.__name__, test)


for _case in MALFORMED:
    _add_malformed(*_case)


class Messages(H2TestCase):

    def post(self, conn, length, chunks, end_in_headers=False):
        conn.send(headers_frame(1, request_block(HELLO_PATH, "POST", extra=[("content-length", str(length))]),
                                end_stream=end_in_headers))
        for i, chunk in enumerate(chunks):
            conn.send(data_frame(1, chunk, end_stream=(i == len(chunks) - 1)))

    def test_8_1_1_content_length_more_than_data(self):
        """RFC 9113 §8.1.1: content-length 10 with 5 octets of DATA is malformed: stream error PROTOCOL_ERROR."""
        conn = self.connect()
        self.post(conn, 10, [b"hello"])
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_1_1_content_length_more_than_several_data(self):
        """RFC 9113 §8.1.1: content-length 10 with DATA frames of 3 and 4 octets: stream error PROTOCOL_ERROR."""
        conn = self.connect()
        self.post(conn, 10, [b"abc", b"defg"])
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_1_1_content_length_less_than_data(self):
        """RFC 9113 §8.1.1: content-length 2 with 5 octets of DATA: stream error PROTOCOL_ERROR."""
        conn = self.connect()
        self.post(conn, 2, [b"hello"])
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_1_1_content_length_without_data(self):
        """RFC 9113 §8.1.1: content-length 5 and END_STREAM on HEADERS: stream error PROTOCOL_ERROR."""
        conn = self.connect()
        self.post(conn, 5, [], end_in_headers=True)
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_1_second_headers_without_end_stream(self):
        """RFC 9113 §8.1: a second HEADERS (trailers) without END_STREAM: stream error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH, "POST"), end_stream=False),
                  headers_frame(1, block_of([("x-trailer", "1")]), end_stream=False))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_1_pseudo_header_in_trailers(self):
        """RFC 9113 §8.1, §8.3: a pseudo-header field in trailers: stream error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH, "POST"), end_stream=False), data_frame(1, b"x"),
                  headers_frame(1, block_of([(":method", "GET")])))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_2_2_te_trailers_accepted(self):
        """RFC 9113 §8.2.2: TE: trailers is the one TE value allowed; the request is served."""
        conn = self.connect()
        self.assert_ok(conn, conn.request(HELLO_PATH, extra=[("te", "trailers")]))

    def test_8_2_3_cookie_crumbs_accepted(self):
        """RFC 9113 §8.2.3: a Cookie split into several fields is accepted."""
        conn = self.connect()
        self.assert_ok(conn, conn.request(HELLO_PATH, extra=[("cookie", "a=1"), ("cookie", "b=2")]))

    def test_8_3_1_host_instead_of_authority(self):
        """RFC 9113 §8.3.1: a request with Host and no :authority is valid and served."""
        conn = self.connect()
        self.assert_ok(conn, conn.request(HELLO_PATH, authority=None, extra=[("host", "localhost")]))

    def test_8_3_1_options_asterisk_answered(self):
        """RFC 9113 §8.3.1: OPTIONS with :path "*" is a valid request and gets a final response."""
        conn = self.connect()
        s = self.assert_answered(conn, conn.request("*", "OPTIONS"))
        self.assertLess(s.status, 500, conn.summary())

    def test_8_1_request_body_then_response(self):
        """RFC 9113 §8.1: a GET with END_STREAM on an empty DATA frame is served like one on HEADERS."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), end_stream=False), data_frame(1, b"", end_stream=True))
        self.assert_ok(conn, 1, HELLO)

    def test_8_4_push_promise_from_client(self):
        """RFC 9113 §8.4: a client cannot push: PUSH_PROMISE from it is a connection error PROTOCOL_ERROR."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH), end_stream=False))
        conn.send(frame(PUSH_PROMISE, 0x4, 1, b"\0\0\0\x02" + request_block("/")))
        self.assert_connection_error(conn, PROTOCOL_ERROR)


if __name__ == "__main__":
    main()
