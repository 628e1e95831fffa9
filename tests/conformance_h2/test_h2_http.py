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
    # The same rules at their edges: nghttp2 checked them until the server did (h2.c, check_field).
    ("field_value_with_del", "§8.2.1", "a field value containing DEL", request_fields(extra=[("x-a", "1\x7f")])),
    ("field_value_with_ctl", "§8.2.1", "a field value containing a control byte",
     request_fields(extra=[("x-a", "1\x01")])),
    ("field_name_with_obs_text", "§8.2.1", "a field name with a byte above 0x7f",
     request_fields(extra=[("x-\xe9", "1")])),
    ("pseudo_header_name_colon_only", "§8.3", "a field named \":\"", fields_with(":", "1", front=True)),
    ("protocol_pseudo_header", "§8.3", "the :protocol field, which SETTINGS_ENABLE_CONNECT_PROTOCOL did not allow",
     fields_with(":protocol", "websocket", front=True)),
    ("empty_method", "§8.3.1", "an empty :method", [(":method", ""), (":scheme", SCHEME), (":path", HELLO_PATH),
                                                     (":authority", "localhost")]),
    ("method_with_space", "§8.3.1", "a :method that is not a token", request_fields(method="GE T")),
    ("scheme_not_a_scheme", "§8.3.1", "a :scheme that is not a URI scheme", request_fields(scheme="1http")),
    ("path_with_space", "§8.3.1", "a :path containing a space", request_fields(path="/a b")),
    ("path_asterisk_not_options", "§8.3.1", "a :path of \"*\" with GET", request_fields(path="*")),
    ("empty_authority", "§8.3.1", "an empty :authority", request_fields(authority="")),
    ("authority_with_space", "§8.3.1", "an :authority containing a space", request_fields(authority="local host")),
    ("duplicate_authority", "§8.3.1", "two :authority fields", fields_with(":authority", "localhost", front=True)),
    ("no_authority_no_host", "§8.3.1", "neither :authority nor Host", request_fields(authority=None)),
    ("duplicate_host", "§8.3.1", "two Host fields", request_fields(extra=[("host", "localhost"), ("host", "localhost")])),
    ("empty_host", "§8.3.1", "an empty Host", request_fields(authority=None, extra=[("host", "")])),
    ("host_with_slash", "§8.3.1", "a Host containing a slash", request_fields(authority=None, extra=[("host", "a/b")])),
    ("connect_with_path", "§8.5", "CONNECT with :scheme and :path", request_fields(method="CONNECT")),
    ("connect_without_authority", "§8.5", "CONNECT without :authority",
     [(":method", "CONNECT"), ("host", "localhost:443")]),
    ("content_length_not_a_number", "§8.1.1", "a content-length that is not a number",
     request_fields(extra=[("content-length", "1x")])),
    ("content_length_empty", "§8.1.1", "an empty content-length", request_fields(extra=[("content-length", "")])),
    ("content_length_twice", "§8.1.1", "two content-length fields",
     request_fields(extra=[("content-length", "0"), ("content-length", "0")])),
    ("content_length_list", "§8.1.1", "a content-length of \"0, 0\"",
     request_fields(extra=[("content-length", "0, 0")])),
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

    def test_8_1_pseudo_header_in_trailers_without_data(self):
        """RFC 9113 §8.1, §8.3: a pseudo-header field in trailers right after the request's HEADERS."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH, "POST"), end_stream=False),
                  headers_frame(1, block_of([(":path", "/")])))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_2_2_connection_field_in_trailers(self):
        """RFC 9113 §8.2.2: a connection-specific field in trailers makes the request malformed."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH, "POST"), end_stream=False), data_frame(1, b"x"),
                  headers_frame(1, block_of([("connection", "close")])))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_2_1_bad_field_name_in_trailers(self):
        """RFC 9113 §8.2.1: an uppercase field name in trailers makes the request malformed."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH, "POST"), end_stream=False), data_frame(1, b"x"),
                  headers_frame(1, block_of([("X-Trailer", "1")])))
        self.assert_stream_error(conn, 1, PROTOCOL_ERROR)

    def test_8_1_trailers_accepted(self):
        """RFC 9113 §8.1: a body and trailers with END_STREAM, within content-length: the request is served."""
        conn = self.connect()
        conn.send(headers_frame(1, request_block(HELLO_PATH, "POST", extra=[("content-length", "3")]),
                                end_stream=False), data_frame(1, b"abc"),
                  headers_frame(1, block_of([("x-trailer", "1")])))
        s = self.assert_answered(conn, 1)
        self.assertIsNone(s.reset, conn.summary())

    def test_8_1_1_content_length_matches_data(self):
        """RFC 9113 §8.1.1: content-length 8 with DATA of 3 and 5 octets is a valid request, answered."""
        conn = self.connect()
        self.post(conn, 8, [b"abc", b"defgh"])
        s = self.assert_answered(conn, 1)
        self.assertIsNone(s.reset, conn.summary())

    def test_8_1_1_content_length_with_head_end_stream_zero(self):
        """RFC 9113 §8.1.1: content-length 0 and END_STREAM on HEADERS is valid."""
        conn = self.connect()
        self.post(conn, 0, [], end_in_headers=True)
        self.assert_answered(conn, 1)

    def test_8_2_1_obs_text_value_accepted(self):
        """RFC 9113 §8.2.1: a field value with bytes above 0x7f (obs-text) is not malformed."""
        conn = self.connect()
        self.assert_ok(conn, conn.request(HELLO_PATH, extra=[("x-a", "caf\xe9 au lait")]))

    def test_8_2_2_te_trailers_any_case_accepted(self):
        """RFC 9113 §8.2.2: TE's "trailers" is compared without regard to case."""
        conn = self.connect()
        self.assert_ok(conn, conn.request(HELLO_PATH, extra=[("te", "Trailers")]))

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
