"""The raw requests of the conformance suite, as one table.

Both the unittest files in this directory (one test method per case) and
scripts/differential (which sends every case to this server, nginx and lighttpd)
read this table, so the three servers are compared on exactly the requests the
suite checks.

Each case is sent on a fresh connection, immediately followed by PROBE, a
well-formed request for /HelloWorld.html with "Connection: close". The expected
outcome is the status of the first response and what happens to the connection:

  "keep"   the request was framed correctly and the connection stays in step:
           the probe is answered next (200, the file's bytes);
  "close"  the answer says "Connection: close" and is the only one: the probe
           (and anything else the client sends) is read and dropped, and the
           connection is closed cleanly (FIN, never a reset that could destroy
           the answer: RFC 9112 §9.6, lingering close).

`rfc` names the section of RFC 9110/9112 (or RFC 3986, or docs/conformance.md
for a choice the RFCs leave open) that decides the expected answer. A case
whose `bug` is set is a known server bug: the test expects the correct answer
and is marked expectedFailure until the server is fixed.

build_root() lays out the document root the cases assume, plus a secret file
outside it (and symlinks that point at it) whose unique marker must never appear
in any response.
"""

import collections
import os
import uuid

PROBE = b"GET /HelloWorld.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

HELLO = b"<!DOCTYPE html><title>Hello</title><h1>Hello, World!</h1>\n"
INDEX = b"<!DOCTYPE html><title>index</title><p>index page</p>\n"

Case = collections.namedtuple("Case", "name group raw status conn rfc note head body bug")


def _case(group, name, raw, status, conn, rfc, note, head=False, body=None, bug=None):
    return Case(name, group, raw, status, conn, rfc, note, head, body, bug)


def req(line, *headers, body=b"", host=b"localhost"):
    """A request: line, then Host (unless host is None), then headers, CRLF line ends."""
    if isinstance(line, str):
        line = line.encode("latin-1")
    lines = [line]
    if host is not None:
        lines.append(b"Host: " + host)
    lines += [h.encode("latin-1") if isinstance(h, str) else h for h in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def get(target, *headers, **kw):
    if isinstance(target, str):
        target = target.encode("latin-1")
    return req(b"GET " + target + b" HTTP/1.1", *headers, **kw)


CASES = []


def add(group, name, raw, status, conn, rfc, note, **kw):
    assert all(c.name != name for c in CASES), name
    CASES.append(_case(group, name, raw, status, conn, rfc, note, **kw))


# --- request line (RFC 9112 §3, RFC 9110 §9) ------------------------------------------

G = "request_line"
add(G, "get_origin_form", get("/HelloWorld.html"), 200, "keep", "RFC 9112 §3", "plain GET", body=HELLO)
add(G, "head_has_no_body", req("HEAD /HelloWorld.html HTTP/1.1"), 200, "keep", "RFC 9110 §9.3.2",
    "HEAD: the GET head, no body", head=True)
add(G, "unknown_method_501", req("BREW /HelloWorld.html HTTP/1.1"), 501, "keep", "RFC 9110 §9.1",
    "a valid token we do not implement: SHOULD 501")
add(G, "method_is_case_sensitive", req("get /HelloWorld.html HTTP/1.1"), 501, "keep", "RFC 9110 §9.1",
    "'get' is not GET")
add(G, "long_method_token_501", req(b"X" * 200 + b" / HTTP/1.1"), 501, "keep", "RFC 9110 §9.1",
    "a 200-byte method token is still a token")
add(G, "method_with_delimiter_400", req("GE(T / HTTP/1.1"), 400, "close", "RFC 9110 §5.6.2",
    "'(' is not a tchar")
add(G, "method_with_nul_400", req(b"GE\x00T / HTTP/1.1"), 400, "close", "RFC 9112 §3", "NUL inside the method")
for m in ("POST", "PUT", "DELETE", "PATCH", "TRACE"):
    add(G, "known_method_%s_405" % m.lower(), req("%s /HelloWorld.html HTTP/1.1" % m), 405, "keep",
        "RFC 9110 §15.5.6", "%s exists but not for static files: 405 with Allow" % m)
add(G, "connect_authority_form_405", req("CONNECT localhost:443 HTTP/1.1"), 405, "keep", "RFC 9110 §9.3.6",
    "CONNECT is known, never allowed")
add(G, "options_asterisk_200", req("OPTIONS * HTTP/1.1"), 200, "keep", "RFC 9110 §9.3.7",
    "OPTIONS * describes the server")
add(G, "options_path_200", req("OPTIONS /HelloWorld.html HTTP/1.1"), 200, "keep", "RFC 9110 §9.3.7",
    "OPTIONS on a resource")
add(G, "two_spaces_after_method_400", req("GET  /HelloWorld.html HTTP/1.1"), 400, "close", "RFC 9112 §3",
    "single SP only (docs/conformance.md)")
add(G, "two_spaces_before_version_400", req("GET /HelloWorld.html  HTTP/1.1"), 400, "close", "RFC 9112 §3",
    "single SP only")
add(G, "tab_separator_400", req("GET\t/HelloWorld.html HTTP/1.1"), 400, "close", "RFC 9112 §3",
    "HTAB is not SP")
add(G, "tab_before_version_400", req("GET /HelloWorld.html\tHTTP/1.1"), 400, "close", "RFC 9112 §3",
    "HTAB is not SP")
add(G, "leading_space_400", req(" GET /HelloWorld.html HTTP/1.1"), 400, "close", "RFC 9112 §3",
    "nothing before the method")
add(G, "trailing_space_400", req("GET /HelloWorld.html HTTP/1.1 "), 400, "close", "RFC 9112 §3",
    "nothing after the version")
add(G, "http09_no_version_400", b"GET /HelloWorld.html\r\n\r\n", 400, "close", "RFC 9112 §3",
    "HTTP/0.9 simple request: refused (docs/conformance.md)")
add(G, "http09_with_headers_400", req("GET /HelloWorld.html"), 400, "close", "RFC 9112 §3",
    "no version but header fields")
add(G, "version_lower_case_400", req("GET /HelloWorld.html http/1.1"), 400, "close", "RFC 9112 §2.3",
    "HTTP-name is case-sensitive")
add(G, "version_1_2_served_as_11", get("/HelloWorld.html").replace(b"HTTP/1.1", b"HTTP/1.2", 1), 200,
    "keep", "RFC 9110 §6.2", "same major version: answered as 1.1", body=HELLO)
add(G, "version_1_9_served_as_11", get("/HelloWorld.html").replace(b"HTTP/1.1", b"HTTP/1.9", 1), 200,
    "keep", "RFC 9110 §6.2", "same major version")
add(G, "version_1_10_400", get("/").replace(b"HTTP/1.1", b"HTTP/1.10", 1), 400, "close", "RFC 9112 §2.3",
    "HTTP-version is DIGIT.DIGIT")
add(G, "version_no_minor_400", get("/").replace(b"HTTP/1.1", b"HTTP/1", 1), 400, "close", "RFC 9112 §2.3",
    "HTTP/1 is not the grammar")
add(G, "version_leading_zero_400", get("/").replace(b"HTTP/1.1", b"HTTP/01.1", 1), 400, "close",
    "RFC 9112 §2.3", "one digit per part")
add(G, "version_2_no_minor_400", get("/").replace(b"HTTP/1.1", b"HTTP/2", 1), 400, "close", "RFC 9112 §2.3",
    "HTTP/2 is not the grammar")
add(G, "version_2_0_505", get("/").replace(b"HTTP/1.1", b"HTTP/2.0", 1), 505, "close", "RFC 9110 §15.6.6",
    "major version 2 not supported on this connection")
add(G, "version_3_0_505", get("/").replace(b"HTTP/1.1", b"HTTP/3.0", 1), 505, "close", "RFC 9110 §15.6.6",
    "major version 3")
add(G, "version_0_9_505", get("/").replace(b"HTTP/1.1", b"HTTP/0.9", 1), 505, "close", "RFC 9110 §15.6.6",
    "major version 0")
add(G, "version_with_garbage_400", get("/").replace(b"HTTP/1.1", b"HTTP/1.1x", 1), 400, "close",
    "RFC 9112 §3", "junk after the version")
add(G, "http10_closes_by_default", req("GET /HelloWorld.html HTTP/1.0", host=None), 200, "close",
    "RFC 9112 §9.3", "HTTP/1.0 without keep-alive", body=HELLO)
add(G, "http10_keep_alive", req("GET /HelloWorld.html HTTP/1.0", "Connection: keep-alive", host=None), 200,
    "keep", "RFC 9112 Appendix C.2.2", "HTTP/1.0 keep-alive opt-in")
add(G, "ctl_in_target_400", get(b"/Hello\x01World.html"), 400, "close", "RFC 9112 §3", "CTL in the target")
add(G, "del_in_target_400", get(b"/Hello\x7fWorld.html"), 400, "close", "RFC 9112 §3", "DEL in the target")
add(G, "nul_in_target_400", get(b"/HelloWorld.html\x00"), 400, "close", "RFC 9112 §3", "raw NUL in the target")
add(G, "esc_in_version_400", get("/").replace(b"HTTP/1.1", b"HTTP/1.1\x1b", 1), 400, "close", "RFC 9112 §3",
    "ESC after the version")
add(G, "space_in_target_400", get(b"/Hello World.html"), 400, "close", "RFC 9112 §3",
    "a space splits the target")
add(G, "bare_cr_ends_request_line_400", b"GET / HTTP/1.1\rHost: localhost\r\n\r\n", 400, "close",
    "RFC 9112 §2.2", "bare CR: MUST reject or replace")
add(G, "bare_lf_line_ends_accepted", b"GET /HelloWorld.html HTTP/1.1\nHost: localhost\n\n", 200, "keep",
    "RFC 9112 §2.2", "a recipient MAY recognise a single LF (docs/conformance.md)")
add(G, "leading_crlf_skipped", b"\r\n\r\n" + get("/HelloWorld.html"), 200, "keep", "RFC 9112 §2.2",
    "SHOULD ignore at least one empty line before the request line")
add(G, "leading_lf_skipped", b"\n" + get("/HelloWorld.html"), 200, "keep", "RFC 9112 §2.2",
    "empty line (bare LF) before the request line")
add(G, "leading_bare_cr_400", b"\r\r" + get("/HelloWorld.html"), 400, "close", "RFC 9112 §2.2",
    "bare CRs are not an empty line")
add(G, "absolute_form_http", get("http://localhost/HelloWorld.html"), 200, "keep", "RFC 9112 §3.2.2",
    "absolute-form MUST be accepted", body=HELLO)
add(G, "absolute_form_scheme_case_insensitive", get("HTTP://LOCALHOST/HelloWorld.html"), 200, "keep",
    "RFC 9110 §4.2.3", "scheme and host compare case-insensitively")
add(G, "absolute_form_no_path_is_root", get("http://localhost"), 200, "keep", "RFC 9110 §4.2.3",
    "an empty path means /", body=INDEX)
add(G, "absolute_form_ftp_400", get("ftp://localhost/HelloWorld.html"), 400, "close", "RFC 9112 §3.2.2",
    "not an http(s) URI")
add(G, "absolute_form_userinfo_400", get("http://user@localhost/HelloWorld.html"), 400, "close",
    "RFC 9110 §4.2.4", "userinfo is deprecated and refused")
add(G, "asterisk_form_with_get_400", get("*"), 400, "close", "RFC 9112 §3.2.4", "* is for OPTIONS only")
add(G, "authority_form_with_get_400", get("localhost:80"), 400, "close", "RFC 9112 §3.2.3",
    "authority-form is for CONNECT only")
add(G, "relative_target_400", get("HelloWorld.html"), 400, "close", "RFC 9112 §3.2.1",
    "origin-form starts with /")
add(G, "fragment_400", get("/HelloWorld.html#top"), 400, "close", "RFC 9110 §4.2.4", "a fragment is never sent")
add(G, "empty_query_ok", get("/HelloWorld.html?"), 200, "keep", "RFC 9112 §3.2.1", "empty query", body=HELLO)
add(G, "query_not_decoded", get("/HelloWorld.html?%zz&a=%00"), 200, "keep", "RFC 3986 §3.4",
    "the query is opaque to a static server", body=HELLO)
add(G, "high_bytes_in_target_literal", get(b"/Hello\xffWorld.html"), 404, "keep", "docs/conformance.md",
    "bytes >= 0x80 are literal name bytes")

# Every control byte, in the target and in the version.
for b in list(range(0x00, 0x20)) + [0x7F]:
    add(G, "ctl_%02x_in_target_400" % b, get(b"/Hello" + bytes([b]) + b"World.html"), 400, "close",
        "RFC 9112 §3", "control byte 0x%02x in the request-target" % b)

# --- Host (RFC 9112 §3.2, RFC 9110 §7.2) -----------------------------------------------

G = "host"
add(G, "missing_host_http11_400", req("GET /HelloWorld.html HTTP/1.1", host=None), 400, "close",
    "RFC 9112 §3.2", "MUST 400 an HTTP/1.1 request without Host")
add(G, "missing_host_http10_ok", req("GET /HelloWorld.html HTTP/1.0", "Connection: keep-alive", host=None),
    200, "keep", "RFC 9112 §3.2", "Host is optional in HTTP/1.0")
add(G, "repeated_host_same_400", get("/HelloWorld.html", "Host: localhost"), 400, "close", "RFC 9112 §3.2",
    "MUST 400 more than one Host")
add(G, "repeated_host_differing_400", get("/HelloWorld.html", "Host: evil.example"), 400, "close",
    "RFC 9112 §3.2", "two different hosts")
add(G, "repeated_host_case_400", get("/HelloWorld.html", "hOST: localhost"), 400, "close", "RFC 9112 §3.2",
    "field names are case-insensitive: still two")
add(G, "repeated_host_http10_400", req("GET / HTTP/1.0", "Host: a", "Host: b", host=None), 400, "close",
    "RFC 9112 §3.2", "more than one Host, even in HTTP/1.0")
add(G, "empty_host_400", get("/HelloWorld.html", host=b""), 400, "close", "RFC 9110 §4.2.1",
    "an http URI with an empty host MUST be rejected")
add(G, "empty_host_http10_400", req("GET / HTTP/1.0", "Host:", host=None), 400, "close", "RFC 9110 §4.2.1",
    "empty host in HTTP/1.0 too")
add(G, "host_with_space_400", get("/HelloWorld.html", host=b"local host"), 400, "close", "RFC 9112 §3.2",
    "invalid Host value: MUST 400")
add(G, "host_with_slash_400", get("/HelloWorld.html", host=b"a/b"), 400, "close", "RFC 9112 §3.2",
    "'/' is not part of uri-host")
add(G, "host_with_userinfo_400", get("/HelloWorld.html", host=b"user@localhost"), 400, "close",
    "RFC 9112 §3.2", "userinfo is not part of Host")
add(G, "host_unclosed_ipv6_400", get("/HelloWorld.html", host=b"[::1"), 400, "close", "RFC 9112 §3.2",
    "IP-literal without ']'")
add(G, "host_bad_port_400", get("/HelloWorld.html", host=b"localhost:80x"), 400, "close", "RFC 9112 §3.2",
    "port is *DIGIT")
add(G, "host_two_ports_400", get("/HelloWorld.html", host=b"localhost:80:80"), 400, "close",
    "RFC 9112 §3.2", "one port at most")
add(G, "host_with_tab_400", get("/HelloWorld.html", host=b"local\thost"), 400, "close", "RFC 9112 §3.2",
    "HTAB inside a host")
add(G, "host_obs_text_400", get("/HelloWorld.html", host=b"caf\xe9.example"), 400, "close",
    "RFC 9112 §3.2", "raw non-ASCII is not a reg-name")
add(G, "host_with_port_ok", get("/HelloWorld.html", host=b"localhost:8080"), 200, "keep", "RFC 9110 §7.2",
    "host:port")
add(G, "host_empty_port_ok", get("/HelloWorld.html", host=b"localhost:"), 200, "keep", "RFC 3986 §3.2.3",
    "port = *DIGIT may be empty")
add(G, "host_ipv4_ok", get("/HelloWorld.html", host=b"127.0.0.1"), 200, "keep", "RFC 9110 §7.2", "IPv4 address")
add(G, "host_ipv6_ok", get("/HelloWorld.html", host=b"[::1]:80"), 200, "keep", "RFC 9110 §7.2", "IP-literal")
add(G, "host_trailing_whitespace_ok", get("/HelloWorld.html", host=b"localhost \t"), 200, "keep",
    "RFC 9110 §5.5", "OWS around a field value is not part of it")
add(G, "absolute_form_overrides_host", get("http://localhost/HelloWorld.html", host=b"other.example"), 200,
    "keep", "RFC 9112 §3.2.2", "MUST ignore Host for absolute-form", body=HELLO)
add(G, "absolute_form_without_host_400", req("GET http://localhost/HelloWorld.html HTTP/1.1", host=None),
    400, "close", "RFC 9112 §3.2", "Host is still required in HTTP/1.1")
add(G, "absolute_form_invalid_host_400", get("http://localhost/HelloWorld.html", host=b"a b"), 400, "close",
    "RFC 9112 §3.2", "an invalid Host field MUST be 400 even when ignored")
add(G, "absolute_form_empty_authority_400", get("http:///HelloWorld.html"), 400, "close", "RFC 9110 §4.2.1",
    "empty host in the target")
add(G, "absolute_form_bad_authority_400", get("http://a b/"), 400, "close", "RFC 9112 §3",
    "space splits the target")
add(G, "absolute_form_with_port_ok", get("http://localhost:8080/HelloWorld.html"), 200, "keep",
    "RFC 9112 §3.2.2", "authority with port")

# --- header field syntax (RFC 9112 §5, RFC 9110 §5) -------------------------------------

G = "header_syntax"
add(G, "space_before_colon_400", get("/HelloWorld.html", "X-A : b"), 400, "close", "RFC 9112 §5.1",
    "MUST 400 whitespace between name and colon")
add(G, "tab_before_colon_400", get("/HelloWorld.html", "X-A\t: b"), 400, "close", "RFC 9112 §5.1",
    "HTAB between name and colon")
add(G, "space_before_colon_host_400", req("GET /HelloWorld.html HTTP/1.1", "Host : localhost", host=None),
    400, "close", "RFC 9112 §5.1", "the classic Host smuggling variant")
add(G, "obs_fold_space_400", get("/HelloWorld.html", "X-A: a", " b"), 400, "close", "RFC 9112 §5.2",
    "obs-fold: MUST reject or replace (we reject)")
add(G, "obs_fold_tab_400", get("/HelloWorld.html", "X-A: a", "\tb"), 400, "close", "RFC 9112 §5.2",
    "obs-fold with HTAB")
add(G, "obs_fold_of_host_400", req("GET /HelloWorld.html HTTP/1.1", "Host:", " localhost", host=None), 400,
    "close", "RFC 9112 §5.2", "a folded Host")
add(G, "whitespace_after_request_line_400", req("GET /HelloWorld.html HTTP/1.1", " X-A: b"), 400, "close",
    "RFC 9112 §2.2", "whitespace before the first field line")
add(G, "bare_cr_in_value_400", get("/HelloWorld.html", b"X-A: a\rb"), 400, "close", "RFC 9112 §2.2",
    "bare CR inside a value")
add(G, "bare_cr_line_end_400", get("/HelloWorld.html", b"X-A: a\r\rX-B: c"), 400, "close", "RFC 9112 §2.2",
    "CR CR LF")
add(G, "bare_cr_empty_line_400", b"GET /HelloWorld.html HTTP/1.1\r\nHost: localhost\r\n\r\r\n", 400,
    "close", "RFC 9112 §2.2", "bare CR in the final empty line")
add(G, "nul_in_value_400", get("/HelloWorld.html", b"X-A: a\x00b"), 400, "close", "RFC 9110 §5.5",
    "NUL in a value: MUST reject or replace")
add(G, "ctl_in_value_400", get("/HelloWorld.html", b"X-A: a\x01b"), 400, "close", "RFC 9110 §5.5",
    "CTL in a value")
add(G, "esc_in_value_400", get("/HelloWorld.html", b"X-A: \x1b[31mred"), 400, "close", "RFC 9110 §5.5",
    "terminal escape in a value (log injection)")
add(G, "del_in_value_400", get("/HelloWorld.html", b"X-A: a\x7fb"), 400, "close", "RFC 9110 §5.5", "DEL")
add(G, "lf_in_value_400", get("/HelloWorld.html", b"X-A: a\nb"), 400, "close", "RFC 9112 §5",
    "a bare LF ends the line; 'b' is then a field line without a colon")
# Every control byte in a field value: only HTAB is allowed (RFC 9110 §5.5).
for b in list(range(0x00, 0x20)) + [0x7F]:
    if b == 0x09:
        add(G, "ctl_09_in_value_ok", get("/HelloWorld.html", b"X-A: a\tb"), 200, "keep", "RFC 9110 §5.5",
            "HTAB is allowed inside a value")
    else:
        add(G, "ctl_%02x_in_value_400" % b, get("/HelloWorld.html", b"X-A: a" + bytes([b]) + b"b"), 400, "close",
            "RFC 9110 §5.5", "control byte 0x%02x in a field value" % b)
add(G, "nul_in_name_400", get("/HelloWorld.html", b"X-\x00A: b"), 400, "close", "RFC 9110 §5.1",
    "NUL in a field name")
add(G, "obs_text_in_value_ok", get("/HelloWorld.html", b"X-A: caf\xe9 \xff"), 200, "keep", "RFC 9110 §5.5",
    "obs-text is allowed in values", body=HELLO)
add(G, "obs_text_in_name_400", get("/HelloWorld.html", b"X-\xe9: b"), 400, "close", "RFC 9110 §5.1",
    "a field name is a token")
add(G, "empty_value_ok", get("/HelloWorld.html", "X-A:"), 200, "keep", "RFC 9110 §5.5", "empty value")
add(G, "whitespace_only_value_ok", get("/HelloWorld.html", "X-A: \t "), 200, "keep", "RFC 9110 §5.5",
    "OWS only")
add(G, "no_colon_400", get("/HelloWorld.html", "X-A"), 400, "close", "RFC 9112 §5", "field line without colon")
add(G, "empty_name_400", get("/HelloWorld.html", ": b"), 400, "close", "RFC 9110 §5.1", "empty field name")
add(G, "colon_only_400", get("/HelloWorld.html", ":"), 400, "close", "RFC 9110 §5.1", "a lone colon")
add(G, "space_in_name_400", get("/HelloWorld.html", "X A: b"), 400, "close", "RFC 9110 §5.1",
    "space inside a name")
add(G, "delimiter_in_name_400", get("/HelloWorld.html", "X(A): b"), 400, "close", "RFC 9110 §5.6.2",
    "'(' is not a tchar")
add(G, "no_space_after_colon_ok", get("/HelloWorld.html", "X-A:b"), 200, "keep", "RFC 9112 §5", "OWS is optional")
add(G, "long_value_ok", get("/HelloWorld.html", "X-A: " + "v" * 8000), 200, "keep", "RFC 9110 §5.4",
    "an 8000-byte value under the header limit")
add(G, "bare_lf_final_line_ok", b"GET /HelloWorld.html HTTP/1.1\r\nHost: localhost\r\n\n", 200, "keep",
    "RFC 9112 §2.2", "bare LF as the empty line")
add(G, "connection_close_empty_elements", get("/HelloWorld.html", "Connection: ,, close ,,"), 200, "close",
    "RFC 9110 §5.6.1", "MUST accept empty list elements")
add(G, "connection_only_empty_elements_keep", get("/HelloWorld.html", "Connection: , ,"), 200, "keep",
    "RFC 9110 §5.6.1", "a list of only empty elements says nothing")
add(G, "connection_close_case_insensitive", get("/HelloWorld.html", "Connection: CLOSE"), 200, "close",
    "RFC 9110 §7.6.1", "connection options are case-insensitive")
add(G, "connection_close_among_others", get("/HelloWorld.html", "Connection: keep-alive, x-foo,close"), 200,
    "close", "RFC 9112 §9.6", "close anywhere in the list")
add(G, "connection_close_second_field", get("/HelloWorld.html", "Connection: keep-alive",
                                            "Connection: close"), 200, "close", "RFC 9110 §5.3",
    "a repeated list field is one list")
add(G, "http10_keep_alive_empty_elements", req("GET /HelloWorld.html HTTP/1.0",
                                               "Connection: ,keep-alive,", host=None), 200, "keep",
    "RFC 9110 §5.6.1", "empty elements around keep-alive")
add(G, "expect_unknown_417", get("/HelloWorld.html", "Expect: something-else"), 417, "close",
    "RFC 9110 §10.1.1", "an expectation we cannot meet")
add(G, "expect_continue_without_body_ok", get("/HelloWorld.html", "Expect: 100-continue"), 200, "keep",
    "RFC 9110 §10.1.1", "no body: no interim response, just the answer", body=HELLO)
add(G, "expect_continue_empty_elements_ok", get("/HelloWorld.html", "Expect: , 100-continue,"), 200, "keep",
    "RFC 9110 §5.6.1", "Expect is a list")

# --- message framing (RFC 9112 §6, §7) ------------------------------------------------

G = "framing"
CHUNKED = "Transfer-Encoding: chunked"
add(G, "cl_and_te_400", get("/HelloWorld.html", "Content-Length: 5", CHUNKED, body=b"0\r\n\r\n"), 400, "close",
    "RFC 9112 §6.1", "CL and TE together: MAY reject, and we do (smuggling)")
add(G, "te_and_cl_400", get("/HelloWorld.html", CHUNKED, "Content-Length: 5", body=b"0\r\n\r\n"), 400, "close",
    "RFC 9112 §6.1", "TE first, then CL")
add(G, "te_and_cl_zero_400", get("/HelloWorld.html", CHUNKED, "Content-Length: 0", body=b"0\r\n\r\n"), 400,
    "close", "RFC 9112 §6.1", "even CL 0")
add(G, "cl_repeated_equal_lines", get("/HelloWorld.html", "Content-Length: 3", "Content-Length: 3",
                                      body=b"abc"), 200, "keep", "RFC 9112 §6.3",
    "identical values may be accepted", body=HELLO)
add(G, "cl_list_equal", get("/HelloWorld.html", "Content-Length: 3, 3", body=b"abc"), 200, "keep",
    "RFC 9110 §8.6", "42, 42 may be replaced by 42")
add(G, "cl_differing_lines_400", get("/HelloWorld.html", "Content-Length: 3", "Content-Length: 4",
                                     body=b"abcd"), 400, "close", "RFC 9112 §6.3", "conflicting values")
add(G, "cl_differing_list_400", get("/HelloWorld.html", "Content-Length: 3, 4", body=b"abcd"), 400, "close",
    "RFC 9112 §6.3", "conflicting values in one line")
add(G, "cl_negative_400", get("/HelloWorld.html", "Content-Length: -1"), 400, "close", "RFC 9112 §6.3",
    "not 1*DIGIT")
add(G, "cl_plus_sign_400", get("/HelloWorld.html", "Content-Length: +3", body=b"abc"), 400, "close",
    "RFC 9112 §6.3", "not 1*DIGIT")
add(G, "cl_hex_400", get("/HelloWorld.html", "Content-Length: 0x3", body=b"abc"), 400, "close",
    "RFC 9112 §6.3", "not decimal")
add(G, "cl_inner_space_400", get("/HelloWorld.html", "Content-Length: 1 0", body=b"a" * 10), 400, "close",
    "RFC 9112 §6.3", "'1 0' is not a number")
add(G, "cl_empty_400", get("/HelloWorld.html", "Content-Length:"), 400, "close", "RFC 9112 §6.3", "empty value")
add(G, "cl_letters_400", get("/HelloWorld.html", "Content-Length: three"), 400, "close", "RFC 9112 §6.3",
    "not a number")
add(G, "cl_leading_zeros_ok", get("/HelloWorld.html", "Content-Length: 0000000000000000000000003",
                                  body=b"abc"), 200, "keep", "RFC 9110 §8.6", "1*DIGIT allows leading zeros")
add(G, "cl_huge_400", get("/HelloWorld.html", "Content-Length: 99999999999999999999999"), 400, "close",
    "RFC 9112 §6.3", "does not fit in 63 bits: invalid (docs/conformance.md)")
add(G, "cl_two_pow_63_400", get("/HelloWorld.html", "Content-Length: 9223372036854775808"), 400, "close",
    "RFC 9112 §6.3", "2^63 does not fit in 63 bits")
add(G, "cl_int64_max_413", get("/HelloWorld.html", "Content-Length: 9223372036854775807"), 413, "close",
    "RFC 9110 §15.5.14", "2^63-1 is a valid length, just too large: 413 (docs/conformance.md)")
add(G, "cl_over_max_body_413", get("/HelloWorld.html", "Content-Length: 2000000"), 413, "close",
    "RFC 9110 §15.5.14", "announced body over --max-body (1 MiB)")
add(G, "cl_zero_ok", get("/HelloWorld.html", "Content-Length: 0"), 200, "keep", "RFC 9112 §6.2", "empty body")
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
add(G, "cl_body_discarded_then_next", get("/HelloWorld.html", "Content-Length: %d" % len(SMUGGLED),
                                          body=SMUGGLED), 200,
    "keep", "RFC 9112 §6.3", "the body is consumed, never parsed as a request", body=HELLO)
add(G, "cl_trailing_comma_400", get("/HelloWorld.html", "Content-Length: 3,", body=b"abc"), 400, "close",
    "RFC 9112 §6.3", "Content-Length is 1*DIGIT (or a list of identical values): '3,' is invalid, "
    "an unrecoverable framing error; nginx and lighttpd answer 400")
add(G, "cl_leading_comma_400", get("/HelloWorld.html", "Content-Length: ,3", body=b"abc"), 400, "close",
    "RFC 9112 §6.3", "',3' is not a valid Content-Length")
add(G, "te_chunked_ok", get("/HelloWorld.html", CHUNKED, body=b"3\r\nabc\r\n0\r\n\r\n"), 200, "keep",
    "RFC 9112 §7.1", "chunked body read and discarded", body=HELLO)
add(G, "te_chunked_case_insensitive", get("/HelloWorld.html", "Transfer-Encoding: CHUNKED",
                                          body=b"3\r\nabc\r\n0\r\n\r\n"), 200, "keep", "RFC 9112 §7",
    "transfer-coding names are case-insensitive")
add(G, "te_empty_elements_ok", get("/HelloWorld.html", "Transfer-Encoding: , chunked",
                                   body=b"0\r\n\r\n"), 200, "keep", "RFC 9110 §5.6.1", "empty list element")
add(G, "te_identity_400", get("/HelloWorld.html", "Transfer-Encoding: identity"), 400, "close",
    "RFC 9112 §6.3", "final coding is not chunked: MUST 400")
add(G, "te_gzip_only_400", get("/HelloWorld.html", "Transfer-Encoding: gzip"), 400, "close", "RFC 9112 §6.3",
    "final coding is not chunked")
add(G, "te_chunked_then_gzip_400", get("/HelloWorld.html", "Transfer-Encoding: chunked, gzip"), 400, "close",
    "RFC 9112 §6.3", "chunked is not the last coding")
add(G, "te_unknown_before_chunked_501", get("/HelloWorld.html", "Transfer-Encoding: gzip, chunked",
                                            body=b"0\r\n\r\n"), 501, "close", "RFC 9112 §6.1",
    "a coding we do not implement: SHOULD 501")
add(G, "te_chunked_twice_400", get("/HelloWorld.html", "Transfer-Encoding: chunked, chunked",
                                   body=b"0\r\n\r\n"), 400, "close", "RFC 9112 §6.1",
    "MUST NOT apply chunked more than once")
add(G, "te_chunked_two_lines_400", get("/HelloWorld.html", CHUNKED, CHUNKED, body=b"0\r\n\r\n"), 400, "close",
    "RFC 9112 §6.1", "chunked twice, across lines")
add(G, "te_chunked_with_parameter_400", get("/HelloWorld.html", "Transfer-Encoding: chunked;q=1",
                                            body=b"0\r\n\r\n"), 400, "close", "RFC 9112 §7",
    "chunked takes no parameters")
add(G, "te_empty_400", get("/HelloWorld.html", "Transfer-Encoding:"), 400, "close", "RFC 9112 §6.1",
    "no coding at all")
add(G, "te_xchunked_400", get("/HelloWorld.html", "Transfer-Encoding: xchunked", body=b"0\r\n\r\n"), 400,
    "close", "RFC 9112 §6.3", "a look-alike of chunked")
add(G, "te_in_http10_400", req("GET /HelloWorld.html HTTP/1.0", CHUNKED, "Connection: keep-alive", host=None,
                               body=b"0\r\n\r\n"), 400, "close", "RFC 9112 §6.1",
    "TE in HTTP/1.0: MUST treat the framing as faulty")
add(G, "chunk_extension_ok", get("/HelloWorld.html", CHUNKED, body=b"3;name=value\r\nabc\r\n0\r\n\r\n"), 200,
    "keep", "RFC 9112 §7.1.1", "MUST ignore unrecognised chunk extensions")
add(G, "chunk_extension_quoted_ok", get("/HelloWorld.html", CHUNKED,
                                        body=b'3;a="x;y\\"z";b\r\nabc\r\n0;c=d\r\n\r\n'), 200, "keep",
    "RFC 9112 §7.1.1", "quoted-string with ';' and an escaped quote")
add(G, "chunk_extension_bws_ok", get("/HelloWorld.html", CHUNKED, body=b"3 ; a = b\r\nabc\r\n0\r\n\r\n"), 200,
    "keep", "RFC 9112 §7.1.1", "BWS around ';' and '='")
add(G, "chunk_trailer_ok", get("/HelloWorld.html", CHUNKED, body=b"3\r\nabc\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n"),
    200, "keep", "RFC 9112 §7.1.2", "trailer fields read and discarded")
add(G, "chunk_size_leading_zeros_ok", get("/HelloWorld.html", CHUNKED,
                                          body=b"00000000000000000000003\r\nabc\r\n0\r\n\r\n"), 200, "keep",
    "RFC 9112 §7.1", "1*HEXDIG allows leading zeros")
add(G, "chunk_size_upper_hex_ok", get("/HelloWorld.html", CHUNKED, body=b"A\r\n0123456789\r\n0\r\n\r\n"), 200,
    "keep", "RFC 9112 §7.1", "HEXDIG is case-insensitive")
add(G, "chunk_bare_lf_ok", get("/HelloWorld.html", CHUNKED, body=b"3\nabc\n0\n\n"), 200, "keep",
    "RFC 9112 §2.2", "bare LF line ends, as in the head (docs/conformance.md)")
add(G, "chunk_size_bad_hex_400", get("/HelloWorld.html", CHUNKED, body=b"zz\r\nabc\r\n0\r\n\r\n"), 400, "close",
    "RFC 9112 §7.1", "not HEXDIG")
add(G, "chunk_size_negative_400", get("/HelloWorld.html", CHUNKED, body=b"-3\r\nabc\r\n0\r\n\r\n"), 400,
    "close", "RFC 9112 §7.1", "a sign")
add(G, "chunk_size_0x_400", get("/HelloWorld.html", CHUNKED, body=b"0x3\r\nabc\r\n0\r\n\r\n"), 400, "close",
    "RFC 9112 §7.1", "a 0x prefix")
add(G, "chunk_size_inner_space_400", get("/HelloWorld.html", CHUNKED, body=b"1 0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n"),
    400, "close", "RFC 9112 §7.1", "'1 0' is not a size")
add(G, "chunk_size_empty_400", get("/HelloWorld.html", CHUNKED, body=b"\r\nabc\r\n0\r\n\r\n"), 400, "close",
    "RFC 9112 §7.1", "no digits")
add(G, "chunk_size_overflow_400", get("/HelloWorld.html", CHUNKED, body=b"ffffffffffffffffff\r\nabc\r\n"), 400,
    "close", "RFC 9112 §7.1", "18 hex digits overflow 64 bits")
add(G, "chunk_size_two_pow_64_400", get("/HelloWorld.html", CHUNKED, body=b"10000000000000000\r\nabc\r\n"), 400,
    "close", "RFC 9112 §7.1", "2^64 wraps to 0 if unchecked")
add(G, "chunk_data_too_long_400", get("/HelloWorld.html", CHUNKED, body=b"3\r\nabcd\r\n0\r\n\r\n"), 400, "close",
    "RFC 9112 §7.1", "data longer than its size: no CRLF where one must be")
add(G, "chunk_missing_crlf_400", get("/HelloWorld.html", CHUNKED, body=b"3\r\nabc0\r\n\r\n"), 400, "close",
    "RFC 9112 §7.1", "no CRLF after chunk-data")
add(G, "chunk_bare_cr_after_size_400", get("/HelloWorld.html", CHUNKED, body=b"3\rabc\r\n0\r\n\r\n"), 400,
    "close", "RFC 9112 §2.2", "bare CR in a chunk line")
add(G, "chunk_ctl_in_extension_400", get("/HelloWorld.html", CHUNKED, body=b"3;a=\x01\r\nabc\r\n0\r\n\r\n"), 400,
    "close", "RFC 9112 §7.1.1", "CTL in a chunk extension")
add(G, "chunk_trailer_obs_fold_400", get("/HelloWorld.html", CHUNKED,
                                         body=b"0\r\nX-T: 1\r\n folded\r\n\r\n"), 400, "close",
    "RFC 9112 §5.2", "obs-fold in the trailer section")
add(G, "post_with_body_405_in_step", req("POST /HelloWorld.html HTTP/1.1", "Content-Length: 11",
                                          body=b"hello=world"), 405, "keep", "RFC 9112 §6.3",
    "a refused request's body is still consumed")
add(G, "post_chunked_405_in_step", req("POST /HelloWorld.html HTTP/1.1", CHUNKED,
                                       body=b"5\r\nhello\r\n0\r\n\r\n"), 405, "keep", "RFC 9112 §7.1",
    "a refused request's chunked body is consumed")

# --- paths (RFC 3986 §2, §5.2.4; docs/conformance.md "Request target") -----------------

G = "paths"
for name, target in (
    ("dotdot_plain", "/../secret.txt"),
    ("dotdot_deep", "/../../../../../../../../etc/passwd"),
    ("dotdot_after_segment", "/sub/../../secret.txt"),
    ("dotdot_encoded_lower", "/%2e%2e/secret.txt"),
    ("dotdot_encoded_upper", "/%2E%2E/secret.txt"),
    ("dotdot_half_encoded_1", "/.%2e/secret.txt"),
    ("dotdot_half_encoded_2", "/%2e./secret.txt"),
    ("dotdot_encoded_slash", "/..%2fsecret.txt"),
    ("dotdot_all_encoded", "/%2e%2e%2fsecret.txt"),
    ("dotdot_after_dot", "/./../secret.txt"),
    ("dotdot_after_empty", "//../secret.txt"),
    ("dotdot_at_end", "/.."),
    ("dotdot_encoded_at_end", "/%2e%2e"),
    ("dotdot_absolute_form", "http://localhost/../secret.txt"),
    ("dotdot_absolute_form_encoded", "http://localhost/%2e%2e/secret.txt"),
    ("dotdot_via_symlinked_dir", "/escape-dir/../../secret.txt"),
):
    add(G, name + "_400", get(target), 400, "close", "RFC 3986 §5.2.4",
        "a .. that climbs above the root: 400 (docs/conformance.md)")
for name, target in (
    ("double_encoded_dots", "/%252e%252e/secret.txt"),
    ("double_encoded_slash", "/..%252fsecret.txt"),
    ("overlong_utf8_dots", "/%c0%ae%c0%ae/secret.txt"),
    ("overlong_utf8_slash", "/..%c0%afsecret.txt"),
    ("overlong_utf8_3byte", "/%e0%80%ae%e0%80%ae/secret.txt"),
    ("overlong_utf8_c1", "/%c1%9c..%c1%9csecret.txt"),
    ("unicode_fullwidth_dots", "/%ef%bc%8e%ef%bc%8e/secret.txt"),
    ("backslash_raw", "/..\\secret.txt"),
    ("backslash_encoded", "/..%5csecret.txt"),
    ("backslash_windows_style", "/sub\\..\\..\\secret.txt"),
    ("semicolon_param", "/..;/secret.txt"),
    ("dots_three", "/.../secret.txt"),
    ("dot_space", "/.. /secret.txt".replace(" ", "%20")),
    ("ntfs_stream", "/HelloWorld.html::$DATA"),
    ("trailing_dot_name", "/HelloWorld.html."),
    ("case_differs", "/HELLOWORLD.HTML"),
    ("escape_symlink_absolute", "/escape-link.txt"),
    ("escape_symlink_relative", "/escape-rel.txt"),
    ("escape_symlink_dir", "/escape-dir/secret.txt"),
    ("escape_symlink_dir_index", "/escape-dir/"),
    ("escape_symlink_dir_relative", "/escape-dir-rel/secret.txt"),
    ("escape_symlink_passwd", "/passwd-link"),
    ("absolute_symlink_inside_root", "/abs-inside-link.html"),
    ("symlink_loop", "/loop-a"),
    ("dotfile_env", "/.env"),
    ("dotfile_git", "/.git/config"),
    ("dotfile_encoded", "/%2eenv"),
    ("dotfile_in_subdir", "/sub/.hidden"),
    ("double_encoded_nul", "/HelloWorld.html%2500"),
):
    add(G, name + "_404", get(target), 404, "keep", "docs/conformance.md",
        "a literal name that does not exist, or an escape that looks like nothing")
for name, target in (
    ("nul_encoded", "/HelloWorld.html%00"),
    ("nul_encoded_before_ext", "/HelloWorld.html%00.txt"),
    ("nul_encoded_dir", "/sub%00/"),
    ("malformed_escape_short", "/%4"),
    ("malformed_escape_trailing", "/HelloWorld.html%"),
    ("malformed_escape_non_hex", "/%zzHelloWorld.html"),
    ("iis_unicode_escape", "/%u002e%u002e/secret.txt"),
    ("nul_after_dotdot", "/..%00/secret.txt"),
):
    add(G, name + "_400", get(target), 400, "close", "RFC 3986 §2.1", "NUL or a malformed escape")
for name, target, body in (
    ("dotdot_inside_root", "/sub/../HelloWorld.html", HELLO),
    ("dotdot_encoded_inside_root", "/sub/%2e%2e/HelloWorld.html", HELLO),
    ("encoded_slash_is_separator", "/sub%2f..%2fHelloWorld.html", HELLO),
    ("encoded_slash_into_dir", "/sub%2Findex.html", b"sub index\n"),
    ("dot_segments", "/./sub/./index.html", b"sub index\n"),
    ("empty_segments", "//sub//index.html", b"sub index\n"),
    ("encoded_name", "/%48%65llo%57orld.html", HELLO),
    ("utf8_name", "/caf%C3%A9.txt", b"cafe\n"),
    ("space_name", "/with%20space.txt", b"spaced\n"),
    ("backslash_name_raw", "/back\\slash.txt", b"backslash\n"),
    ("backslash_name_encoded", "/back%5Cslash.txt", b"backslash\n"),
    ("literal_percent_name", "/pct%2541.txt", b"percent\n"),
    ("semicolon_name", "/semi;colon.txt", b"semicolon\n"),
    ("symlink_inside_root", "/inside-link.html", HELLO),
    ("symlinked_dir_inside_root", "/inside-dir/index.html", b"sub index\n"),
    ("well_known_allowed", "/.well-known/security.txt", b"contact\n"),
    ("query_with_dotdot_ignored", "/HelloWorld.html?../../secret.txt", HELLO),
    ("root_dot", "/.", INDEX),
    ("subdir_dotdot_to_root", "/sub/..", INDEX),
):
    add(G, name + "_200", get(target), 200, "keep", "RFC 3986 §5.2.4", "resolved inside the root", body=body)
add(G, "directory_without_slash_301", get("/sub"), 301, "keep", "docs/conformance.md",
    "301 to the slashed path")
add(G, "directory_without_index_403", get("/noindex/"), 403, "keep", "docs/conformance.md", "no listing")
add(G, "file_with_trailing_slash_404", get("/HelloWorld.html/"), 404, "keep", "RFC 3986 §3.3",
    "'/f/' names a directory, and f is a file: nothing is there (ENOTDIR)")
add(G, "file_with_trailing_dot_segment_404", get("/HelloWorld.html/."), 404, "keep", "RFC 3986 §5.2.4",
    "'/f/.' resolves to '/f/'")


def cases(group=None):
    return [c for c in CASES if group is None or c.group == group]


# --- the document root ---------------------------------------------------------------------


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def build_root(base):
    """Lays out base/root (the document root) and the secrets beside it.

    Returns (root, marker): marker is a unique byte string that appears only in
    files outside the root (base/secret.txt and base/secret-dir/secret.txt).
    """
    marker = ("WS-SECRET-%s" % uuid.uuid4().hex).encode()
    root = os.path.join(base, "root")
    os.makedirs(root)
    write(os.path.join(base, "secret.txt"), marker + b"\n")
    write(os.path.join(base, "secret-dir", "secret.txt"), marker + b"\n")
    write(os.path.join(base, "secret-dir", "index.html"), marker + b"\n")

    write(os.path.join(root, "index.html"), INDEX)
    write(os.path.join(root, "HelloWorld.html"), HELLO)
    write(os.path.join(root, "sub", "index.html"), b"sub index\n")
    write(os.path.join(root, "sub", ".hidden"), b"hidden\n")
    write(os.path.join(root, "noindex", "file.txt"), b"plain text\n")
    write(os.path.join(root, "caf\u00e9.txt"), b"cafe\n")
    write(os.path.join(root, "with space.txt"), b"spaced\n")
    write(os.path.join(root, "back\\slash.txt"), b"backslash\n")
    write(os.path.join(root, "pct%41.txt"), b"percent\n")
    write(os.path.join(root, "semi;colon.txt"), b"semicolon\n")
    write(os.path.join(root, ".env"), b"DOTFILE=1\n")
    write(os.path.join(root, ".git", "config"), b"[core]\n")
    write(os.path.join(root, ".well-known", "security.txt"), b"contact\n")
    os.symlink(os.path.join(base, "secret.txt"), os.path.join(root, "escape-link.txt"))
    os.symlink("../secret.txt", os.path.join(root, "escape-rel.txt"))
    os.symlink(os.path.join(base, "secret-dir"), os.path.join(root, "escape-dir"))
    os.symlink("../secret-dir", os.path.join(root, "escape-dir-rel"))
    os.symlink("/etc/passwd", os.path.join(root, "passwd-link"))
    os.symlink("HelloWorld.html", os.path.join(root, "inside-link.html"))
    os.symlink("sub", os.path.join(root, "inside-dir"))
    os.symlink(os.path.join(root, "HelloWorld.html"), os.path.join(root, "abs-inside-link.html"))
    os.symlink("loop-b", os.path.join(root, "loop-a"))
    os.symlink("loop-a", os.path.join(root, "loop-b"))
    # Everyone may read it: nginx workers may run as another user.
    for d, dirs, files in os.walk(base):
        os.chmod(d, 0o755)
        for f in files:
            if not os.path.islink(os.path.join(d, f)):
                os.chmod(os.path.join(d, f), 0o644)
    return root, marker
