"""Shared machinery of the HTTP/2 conformance suite (RFC 9113, RFC 7541).

Each test opens a fresh HTTP/2 connection to the server and sends frames built
byte for byte (a 9-octet header and a payload: well-formed ones, and malformed
ones no library would build), then reads frames with a deadline and checks the
server's answer:

  * a connection error X: a GOAWAY frame with error code X (RFC 9113 §5.4.1;
    the close that follows is checked by the §5.4.1 cases only);
  * a stream error X: RST_STREAM with code X on that stream, or, since an
    endpoint MAY treat a stream error as a connection error (§5.4.2), a GOAWAY
    with code X (h2spec accepts the same);
  * "accepted": the connection still answers a PING (and, where the case says,
    a request), and no GOAWAY or RST_STREAM arrived.

Transport (environment):
  WS_H2_TLS=1            h2 over TLS (ALPN "h2") on the server's HTTPS port;
                         otherwise h2c with prior knowledge on the cleartext port.
  WS_H2_TARGET=HOST:PORT test another server already running on loopback (h2o,
                         nginx...) instead of starting ours; the descriptor and
                         stderr post-conditions are skipped. Serve the root that
                         `python3 h2conf.py make-root DIR` lays out (DIR/root).
  WS_H2_CAFILE=FILE      with a target over TLS: the CA to verify it with
                         (without it the certificate is not verified).
  WEBSERVER, WS_SOURCE_DIR, WS_SANITIZER: as for tests/conformance (set by ctest).

The server under test is started once per class from the built `webserver`
(tests/integration/wshelper.py's Server) on the root of tests/conformance
(cases.build_root: a secret file with a unique marker sits beside it), and
every case ends with confhelper's post-conditions: same process alive,
descriptors back to the baseline, no byte from outside the root received,
nothing foreign on stderr.
"""

import hashlib
import os
import random
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))

try:
    import hpack
    import hyperframe.frame  # noqa: F401 (the builders below are checked against it)
    from hpack.huffman import HuffmanEncoder
    from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
except ImportError:
    # The interpreter found first may not be Debian's (pyenv...); python3-h2,
    # python3-hpack and python3-hyperframe are pure Python, so their directory serves.
    sys.path.append("/usr/lib/python3/dist-packages")
    import hpack
    import hyperframe.frame  # noqa: F401
    from hpack.huffman import HuffmanEncoder
    from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

import cases  # noqa: E402
import confhelper  # noqa: E402
import tlscerts  # noqa: E402
from wshelper import SLOW, WEBSERVER, Server  # noqa: E402

TLS = os.environ.get("WS_H2_TLS", "") not in ("", "0")
TARGET = os.environ.get("WS_H2_TARGET", "")
TARGET_CAFILE = os.environ.get("WS_H2_CAFILE", "")

# Every wait for an answer (seconds, scaled by SLOW under sanitizers).
WAIT = 3.0 * SLOW
# How long "nothing more arrives" is watched for, where a case needs it.
QUIET = 0.3 * SLOW

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 §6, §11.2).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
TYPE_NAMES = {DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY", RST_STREAM: "RST_STREAM",
              SETTINGS: "SETTINGS", PUSH_PROMISE: "PUSH_PROMISE", PING: "PING", GOAWAY: "GOAWAY",
              WINDOW_UPDATE: "WINDOW_UPDATE", CONTINUATION: "CONTINUATION"}

# Flags.
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Error codes (RFC 9113 §7).
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
CONNECT_ERROR = 0xa
ENHANCE_YOUR_CALM = 0xb
INADEQUATE_SECURITY = 0xc
HTTP_1_1_REQUIRED = 0xd
ERROR_NAMES = dict(enumerate("""
NO_ERROR
PROTOCOL_ERROR
INTERNAL_ERROR
FLOW_CONTROL_ERROR
SETTINGS_TIMEOUT
STREAM_CLOSED
FRAME_SIZE_ERROR
REFUSED_STREAM
CANCEL
COMPRESSION_ERROR
CONNECT_ERROR
ENHANCE_YOUR_CALM
INADEQUATE_SECURITY
HTTP_1_1_REQUIRED
""".split()))

# SETTINGS identifiers (RFC 9113 §6.5.2).
HEADER_TABLE_SIZE = 0x1
ENABLE_PUSH = 0x2
MAX_CONCURRENT_STREAMS = 0x3
INITIAL_WINDOW_SIZE = 0x4
MAX_FRAME_SIZE = 0x5
MAX_HEADER_LIST_SIZE = 0x6

DEFAULT_WINDOW = 65535
DEFAULT_MAX_FRAME = 16384
MAX_WINDOW = 2 ** 31 - 1

# Files the cases fetch. HELLO and INDEX come from cases.build_root; the others are
# added by add_h2_files, with contents made from a fixed seed, so that a case can
# check the bytes of a target server that runs on another copy of the root.
HELLO_PATH = "/HelloWorld.html"
HELLO = cases.HELLO
INDEX = cases.INDEX
KILO_PATH = "/h2-1k.txt"      # 1000 bytes: larger than a 1-octet or 100-octet window
BIG_PATH = "/h2-big.bin"      # 256 KiB: several frames and several windows


def kilo_bytes():
    return bytes(b"0123456789abcdefghijklmnopqrstuvwxyz"[i % 36] for i in range(1000))


def big_bytes():
    rnd = random.Random(14)
    return bytes(rnd.getrandbits(8) for _ in range(256 * 1024))


def add_h2_files(root):
    """Adds the files this suite fetches beyond those of cases.build_root."""
    for rel, data in ((KILO_PATH, kilo_bytes()), (BIG_PATH, big_bytes())):
        path = os.path.join(root, rel.lstrip("/"))
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)


# --- frames, byte for byte ----------------------------------------------------------


def frame(ftype, flags, sid, payload=b"", length=None):
    """One frame: the 9-octet header (RFC 9113 §4.1) and payload. length overrides the
    Length field (a lie about the payload); sid may carry the reserved bit (1 << 31)."""
    n = len(payload) if length is None else length
    return struct.pack(">BHBBI", (n >> 16) & 0xff, n & 0xffff, ftype, flags, sid & 0xffffffff) + payload


def padded(payload, pad):
    """payload with a Pad Length octet in front and pad zero octets after (§6.1)."""
    return bytes([pad]) + payload + b"\0" * pad


def settings_frame(pairs=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def ping_frame(data=b"h2conf!!", ack=False, sid=0):
    return frame(PING, ACK if ack else 0, sid, data)


def window_update_frame(sid, increment):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", increment))


def rst_frame(sid, code=CANCEL):
    return frame(RST_STREAM, 0, sid, struct.pack(">I", code))


def goaway_frame(last_sid=0, code=NO_ERROR, debug=b"", sid=0):
    return frame(GOAWAY, 0, sid, struct.pack(">II", last_sid, code) + debug)


def priority_payload(dep=0, weight=16, exclusive=False):
    """Stream Dependency, E bit and Weight (the wire carries weight-1, §5.3.2)."""
    return struct.pack(">IB", dep | (0x80000000 if exclusive else 0), weight - 1)


def priority_frame(sid, dep=0, weight=16, exclusive=False):
    return frame(PRIORITY, 0, sid, priority_payload(dep, weight, exclusive))


def data_frame(sid, data=b"", end_stream=False, pad=None):
    flags = END_STREAM if end_stream else 0
    if pad is not None:
        flags |= PADDED
        data = padded(data, pad)
    return frame(DATA, flags, sid, data)


def headers_frame(sid, block, end_stream=True, end_headers=True, pad=None, priority=None):
    """priority: (dependency, weight, exclusive) sets the PRIORITY flag."""
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    payload = block
    if priority is not None:
        flags |= PRIORITY_FLAG
        payload = priority_payload(*priority) + payload
    if pad is not None:
        flags |= PADDED
        payload = padded(payload, pad)
    return frame(HEADERS, flags, sid, payload)


def continuation_frame(sid, block, end_headers=True):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, sid, block)


def split_block(sid, block, pieces, end_stream=True):
    """A header block as one HEADERS frame and pieces-1 CONTINUATION frames."""
    step = max(1, -(-len(block) // pieces))
    parts = [block[i:i + step] for i in range(0, len(block), step)]
    while len(parts) < pieces:
        parts.append(b"")
    out = [headers_frame(sid, parts[0], end_stream=end_stream, end_headers=(pieces == 1))]
    for i, part in enumerate(parts[1:], 1):
        out.append(continuation_frame(sid, part, end_headers=(i == pieces - 1)))
    return b"".join(out)


# --- HPACK primitives (RFC 7541), byte for byte -------------------------------------

_huffman = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)

# Static table entries the builders use (RFC 7541 Appendix A).
STATIC = {":authority": 1, ":method": 2, ":path": 4, ":scheme": 6, ":status": 8,
          "content-length": 28, "content-type": 31, "cookie": 32, "host": 38,
          "te": None, "user-agent": 58}


def hp_int(value, prefix_bits, first=0):
    """An HPACK integer (§5.1) with first's high bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hp_str(data, huffman=False):
    """A string literal (§5.2), Huffman-coded if asked."""
    if isinstance(data, str):
        data = data.encode("latin-1")
    if huffman:
        data = _huffman.encode(data)
    return hp_int(len(data), 7, 0x80 if huffman else 0) + data


def hp_indexed(index):
    """An indexed header field (§6.1)."""
    return hp_int(index, 7, 0x80)


def hp_literal(name, value, kind="noindex", huffman=False, name_index=None):
    """A literal header field (§6.2): kind is "incremental", "noindex" or "never";
    the name is given by name_index if set, else as a literal."""
    prefix, first = {"incremental": (6, 0x40), "noindex": (4, 0x00), "never": (4, 0x10)}[kind]
    if name_index is not None:
        return hp_int(name_index, prefix, first) + hp_str(value, huffman)
    return bytes([first]) + hp_str(name, huffman) + hp_str(value, huffman)


def hp_size_update(size):
    """A dynamic table size update (§6.3)."""
    return hp_int(size, 5, 0x20)


def request_fields(path=HELLO_PATH, method="GET", scheme=None, authority="localhost", extra=()):
    """The (name, value) list of a request: the four pseudo-header fields, then extra."""
    scheme = scheme or ("https" if TLS else "http")
    fields = [(":method", method), (":scheme", scheme), (":path", path)]
    if authority is not None:
        fields.append((":authority", authority))
    return fields + list(extra)


def block_of(fields, kind="noindex", huffman=False):
    """A header block that leaves the server's dynamic table untouched: every field a
    literal without indexing (names from the static table where it has them)."""
    out = bytearray()
    for name, value in fields:
        idx = STATIC.get(name)
        out += hp_literal(name, value, kind, huffman, name_index=idx)
    return bytes(out)


def request_block(path=HELLO_PATH, method="GET", extra=(), **kwargs):
    return block_of(request_fields(path, method, extra=extra, **kwargs))


def field_list_size(fields):
    """The size of a field list as SETTINGS_MAX_HEADER_LIST_SIZE counts it (§6.5.2):
    name + value + 32 octets per field, pseudo-header fields included."""
    return sum(len(n) + len(v) + 32 for n, v in fields)


# --- a client connection ------------------------------------------------------------


class Frame:
    """A frame the server sent."""

    def __init__(self, ftype, flags, sid, payload):
        self.type = ftype
        self.flags = flags
        self.sid = sid
        self.payload = payload

    def __repr__(self):
        name = TYPE_NAMES.get(self.type, "type 0x%x" % self.type)
        extra = ""
        if self.type in (RST_STREAM, GOAWAY) and len(self.payload) >= 4:
            code = struct.unpack(">I", self.payload[-4:] if self.type == RST_STREAM else self.payload[4:8])[0]
            extra = " %s" % ERROR_NAMES.get(code, hex(code))
        return "%s(flags=0x%x, stream=%d, %d octets%s)" % (name, self.flags, self.sid, len(self.payload), extra)


class Stream:
    """What the server sent on one stream."""

    def __init__(self, sid):
        self.sid = sid
        self.headers = None       # the response's field list [(name, value) as str], 1xx excluded
        self.informational = []   # 1xx field lists
        self.trailers = None
        self.data = bytearray()
        self.data_frames = []     # payload length of each DATA frame (padding removed)
        self.ended = False        # END_STREAM received
        self.reset = None         # RST_STREAM error code

    @property
    def status(self):
        if self.headers is None:
            return None
        for name, value in self.headers:
            if name == ":status":
                return int(value)
        return None

    def header(self, name):
        for n, v in self.headers or ():
            if n == name:
                return v
        return None

    def done(self):
        return self.ended or self.reset is not None


class ConnectionClosed(Exception):
    pass


class H2Conn:
    """One client HTTP/2 connection: sends bytes, reads and records frames.

    Reading records everything: `frames` (every frame, in order), `streams`
    (sid -> Stream), `goaway` (last_sid, code, debug) of the last GOAWAY,
    `server_settings`, `ping_acks`, `closed` ("eof" or "reset" once the server
    ended the connection). SETTINGS from the server are acknowledged as they are
    read (set auto_ack False to stop that); with auto_window, every DATA frame is
    given back to both windows at once.
    """

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.decoder = hpack.Decoder()
        self.frames = []
        self.streams = {}
        self.goaway = None
        self.goaways = []
        self.closed = None
        self.server_settings = {}
        self.server_settings_frames = 0
        self.settings_acks = 0
        self.ping_acks = []
        self.auto_ack = True
        self.auto_window = False
        self.send_error = None
        self.decode_error = None
        self._block = None  # (sid, bytearray) while a header block from the server is open
        self.next_sid = 1

    # sending

    def send(self, *chunks):
        """Sends the bytes of chunks at once; an error (the server closed) is recorded, not raised."""
        try:
            self.sock.sendall(b"".join(chunks))
        except (OSError, ssl.SSLError) as e:
            self.send_error = e
            return False
        return True

    def new_sid(self):
        """The next client stream id: above every one used so far (sent by hand or not)."""
        sid = max([self.next_sid] + [n + 2 for n in self.streams if n % 2])
        self.next_sid = sid + 2
        return sid

    def request(self, path=HELLO_PATH, method="GET", extra=(), end_stream=True, sid=None, **kwargs):
        """Sends a request's HEADERS frame (a self-contained block) and returns its stream id."""
        sid = self.new_sid() if sid is None else sid
        self.send(headers_frame(sid, request_block(path, method, extra, **kwargs), end_stream=end_stream))
        return sid

    def handshake(self, settings=(), wait_ack=True):
        """Sends the connection preface with a SETTINGS frame of `settings`, reads the
        server's SETTINGS (and, if wait_ack, the acknowledgment of ours)."""
        self.send(PREFACE, settings_frame(settings))
        ok = self.wait(lambda: self.server_settings_frames > 0 and (self.settings_acks > 0 or not wait_ack))
        if not ok:
            raise AssertionError("no HTTP/2 server preface (SETTINGS%s) within %.1fs: %r, %s"
                                 % (" and ACK" if wait_ack else "", WAIT, self.frames[:5], self.closed))
        return self

    # reading

    def _fill(self, deadline):
        """Reads once from the socket. False on timeout or when the connection ended."""
        if self.closed:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 16)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.closed = "reset"
            return False
        except ssl.SSLError:
            self.closed = "reset"
            return False
        except OSError:
            self.closed = "reset"
            return False
        if not data:
            self.closed = "eof"
            return False
        self.buf += data
        return True

    def next_frame(self, deadline):
        """The next frame (processed and recorded), or None on timeout or the end."""
        while True:
            if len(self.buf) >= 9:
                n = (self.buf[0] << 16) | (self.buf[1] << 8) | self.buf[2]
                if len(self.buf) >= 9 + n:
                    ftype, flags = self.buf[3], self.buf[4]
                    sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7fffffff
                    payload = bytes(self.buf[9:9 + n])
                    del self.buf[:9 + n]
                    f = Frame(ftype, flags, sid, payload)
                    self._process(f)
                    return f
            if not self._fill(deadline):
                return None

    def wait(self, predicate, timeout=None):
        """Reads frames until predicate() holds, the connection ends or timeout passes
        (WAIT by default); returns predicate()."""
        deadline = time.monotonic() + (WAIT if timeout is None else timeout)
        while not predicate():
            if self.next_frame(deadline) is None:
                return predicate()
        return True

    def drain(self, timeout=None):
        """Reads every frame that arrives within timeout (QUIET by default)."""
        deadline = time.monotonic() + (QUIET if timeout is None else timeout)
        while self.next_frame(deadline) is not None:
            pass

    def stream(self, sid):
        s = self.streams.get(sid)
        if s is None:
            s = self.streams[sid] = Stream(sid)
        return s

    def response(self, sid, timeout=None):
        """Waits until stream sid ends (END_STREAM or RST_STREAM) and returns it."""
        self.wait(lambda: self.stream(sid).done() or self.goaway is not None or self.closed, timeout)
        return self.stream(sid)

    def ping(self, timeout=None):
        """Sends a PING with a fresh payload; True if its ACK came back."""
        data = os.urandom(8)
        if not self.send(ping_frame(data)):
            return False
        return self.wait(lambda: data in self.ping_acks, timeout)

    def _process(self, f):
        self.frames.append(f)
        if f.type == DATA and f.sid:
            body = f.payload
            if f.flags & PADDED and body:
                body = body[1:len(body) - body[0]]
            s = self.stream(f.sid)
            s.data += body
            s.data_frames.append(len(body))
            if f.flags & END_STREAM:
                s.ended = True
            if self.auto_window and f.payload:
                upd = window_update_frame(0, len(f.payload))
                if not s.ended:
                    upd += window_update_frame(f.sid, len(f.payload))
                self.send(upd)
        elif f.type in (HEADERS, PUSH_PROMISE):
            p = f.payload
            if f.flags & PADDED and p:
                p = p[1:len(p) - p[0]]
            if f.type == HEADERS and f.flags & PRIORITY_FLAG:
                p = p[5:]
            if f.type == PUSH_PROMISE:
                p = p[4:]
            self._block = (f.sid, bytearray(p), f.type, f.flags & END_STREAM)
            if f.flags & END_HEADERS:
                self._end_block()
        elif f.type == CONTINUATION:
            if self._block is not None:
                self._block[1].extend(f.payload)
                if f.flags & END_HEADERS:
                    self._end_block()
        elif f.type == RST_STREAM and len(f.payload) == 4:
            self.stream(f.sid).reset = struct.unpack(">I", f.payload)[0]
        elif f.type == SETTINGS:
            if f.flags & ACK:
                self.settings_acks += 1
            else:
                self.server_settings_frames += 1
                for i in range(0, len(f.payload) - 5, 6):
                    k, v = struct.unpack(">HI", f.payload[i:i + 6])
                    self.server_settings[k] = v
                if self.auto_ack:
                    self.send(settings_frame(ack=True))
        elif f.type == PING and f.flags & ACK:
            self.ping_acks.append(f.payload)
        elif f.type == GOAWAY and len(f.payload) >= 8:
            last, code = struct.unpack(">II", f.payload[:8])
            self.goaway = (last & 0x7fffffff, code, f.payload[8:])
            self.goaways.append(self.goaway)

    def _end_block(self):
        sid, block, ftype, end_stream = self._block
        self._block = None
        try:
            fields = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self.decoder.decode(bytes(block), raw=True)]
        except Exception as e:  # a bad block from the server: the case reports it
            self.decode_error = e
            return
        if ftype != HEADERS:
            return
        s = self.stream(sid)
        status = dict(fields).get(":status", "")
        if s.headers is None and status.startswith("1"):
            s.informational.append(fields)
        elif s.headers is None:
            s.headers = fields
        else:
            s.trailers = fields
        if end_stream:
            s.ended = True

    def summary(self, limit=12):
        fs = self.frames if len(self.frames) <= limit else self.frames[:limit // 2] + ["..."] + self.frames[-limit // 2:]
        return "received %r; goaway %r; closed %r" % (fs, self.goaway, self.closed)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- transport ----------------------------------------------------------------------

_contexts = {}


def h2_context(alpn=("h2",)):
    """The client TLS context: ALPN alpn; trusts the test CA (our server) or the
    target's CA file (WS_H2_CAFILE), or verifies nothing for a target without one."""
    key = tuple(alpn)
    ctx = _contexts.get(key)
    if ctx is None:
        if TARGET and not TARGET_CAFILE:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif TARGET:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(TARGET_CAFILE)
        else:
            ctx = tlscerts.default_pki().client_context()
        ctx.set_alpn_protocols(list(alpn))
        ctx.sslsocket_class = confhelper.RecTLSSocket
        _contexts[key] = ctx
    return ctx


def target_port():
    host, _, port = TARGET.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise unittest.SkipTest("WS_H2_TARGET must be on 127.0.0.1 (loopback only): %r" % TARGET)
    return int(port)


def build_h2_root(base):
    """cases.build_root(base) plus this suite's files; returns (root, marker)."""
    root, marker = cases.build_root(base)
    add_h2_files(root)
    return root, marker


class H2TestCase(confhelper.ConformanceTestCase):
    """One server per class (or the WS_H2_TARGET one), a fresh root, the post-conditions.

    self.connect() returns an H2Conn after the connection preface exchange.
    """

    server_args = ("--threads", "4")
    server_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.server = None
        if TARGET:
            cls.port = target_port()
            cls.base = None
            cls.check_h2()
            return
        if not WEBSERVER or not os.access(WEBSERVER, os.X_OK):
            raise unittest.SkipTest("WEBSERVER is not set to the built binary")
        cls.base = tempfile.mkdtemp(prefix="ws-h2conf-")
        try:
            cls.root, cls.marker = build_h2_root(cls.base)
            confhelper._Watch.markers = (cls.marker, confhelper.PASSWD_MARK)
            cls.prepare_root(cls.root)
            cls.server = Server(cls.root, cls.server_args, tls=TLS, **cls.server_kwargs)
            cls.port = cls.server.port
            cls.pid = cls.server.pid
            cls.check_h2()
            cls.baseline = confhelper.stable_fd_count(cls.pid)
        except BaseException:
            if cls.server is not None:
                cls.server.kill()
            shutil.rmtree(cls.base, ignore_errors=True)
            raise

    @classmethod
    def check_h2(cls):
        """Fails the class at once if the server does not answer a GET over HTTP/2."""
        conn = open_conn(cls.port)
        try:
            conn.handshake()
            s = conn.response(conn.request(HELLO_PATH))
            if s.status != 200 or bytes(s.data) != HELLO:
                raise RuntimeError("the server does not serve GET %s over HTTP/2: %s"
                                   % (HELLO_PATH, conn.summary()))
        finally:
            conn.close()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            super().tearDownClass()

    def setUp(self):
        self._conns = []
        if self.server is not None:
            super().setUp()

    def tearDown(self):
        for c in self._conns:
            c.close()
        if self.server is not None:
            super().tearDown()

    # --- connections -----------------------------------------------------------------

    def connect(self, settings=(), handshake=True, wait_ack=True, alpn=("h2",)):
        """A new HTTP/2 connection, closed when the test ends; with handshake, the
        prefaces have been exchanged (settings: the client's SETTINGS pairs)."""
        conn = open_conn(self.port, alpn)
        self._conns.append(conn)
        if handshake:
            conn.handshake(settings, wait_ack)
        return conn

    def pending_response(self, path=KILO_PATH, settings=()):
        """A connection whose client stream windows are 0, and a stream that is half-closed (remote)
        on the server: the request ended, the response's HEADERS came, its DATA cannot be sent.
        Returns (conn, sid)."""
        conn = self.connect(settings=[(INITIAL_WINDOW_SIZE, 0)] + list(settings))
        sid = conn.request(path)
        s = conn.stream(sid)
        self.assertTrue(conn.wait(lambda: s.headers is not None or s.done()), conn.summary())
        self.assertEqual(s.status, 200, conn.summary())
        self.assertFalse(s.done(), "the response ended with a zero window: %s" % conn.summary())
        return conn, sid

    # --- assertions ------------------------------------------------------------------

    def assert_connection_error(self, conn, *codes, timeout=None):
        """A GOAWAY with one of codes arrives (RFC 9113 §5.4.1)."""
        conn.wait(lambda: conn.goaway is not None or conn.closed, timeout)
        names = [ERROR_NAMES.get(c, hex(c)) for c in codes]
        self.assertIsNotNone(conn.goaway, "expected a connection error %s (GOAWAY): %s" % (names, conn.summary()))
        self.assertIn(conn.goaway[1], codes, "GOAWAY with the wrong code, expected %s: %s" % (names, conn.summary()))

    def assert_stream_error(self, conn, sid, *codes, timeout=None):
        """RST_STREAM with one of codes on sid, or a connection error with one of codes
        (an endpoint MAY treat a stream error as a connection error, §5.4.2)."""
        s = conn.stream(sid)
        conn.wait(lambda: s.reset is not None or conn.goaway is not None or conn.closed, timeout)
        names = [ERROR_NAMES.get(c, hex(c)) for c in codes]
        if s.reset is not None:
            self.assertIn(s.reset, codes, "RST_STREAM with the wrong code on stream %d, expected %s: %s"
                          % (sid, names, conn.summary()))
            return
        self.assertIsNotNone(conn.goaway, "expected a stream error %s on stream %d: %s" % (names, sid, conn.summary()))
        self.assertIn(conn.goaway[1], codes, "GOAWAY with the wrong code, expected %s: %s" % (names, conn.summary()))

    def assert_no_error(self, conn):
        """No GOAWAY with an error code, no RST_STREAM with one (NO_ERROR after a complete response is
        allowed, §8.1), no decoding trouble so far."""
        self.assertIsNone(conn.decode_error, "the server's header block did not decode")
        self.assertTrue(conn.goaway is None or conn.goaway[1] == NO_ERROR, "GOAWAY: %s" % conn.summary())
        resets = [f for f in conn.frames if f.type == RST_STREAM and f.payload != b"\0\0\0\0"]
        self.assertEqual(resets, [], "RST_STREAM: %s" % conn.summary())

    def assert_healthy(self, conn):
        """The connection still answers a PING, and no error was sent on it."""
        self.assertTrue(conn.ping(), "no PING ACK: %s" % conn.summary())
        self.assert_no_error(conn)
        self.assertIsNone(conn.goaway, "GOAWAY: %s" % conn.summary())

    def assert_ok(self, conn, sid, body=HELLO):
        """Stream sid got a 200 with body (None: any body) and ended normally."""
        s = conn.response(sid)
        self.assertTrue(s.ended, "stream %d did not end: %s" % (sid, conn.summary()))
        self.assertIsNone(s.reset, "stream %d was reset: %s" % (sid, conn.summary()))
        self.assertEqual(s.status, 200, "stream %d: %r %s" % (sid, s.headers, conn.summary()))
        if body is not None:
            self.assertEqual(bytes(s.data), body)
        return s

    def assert_answered(self, conn, sid):
        """Stream sid got a final response (any status) and no error came."""
        s = conn.response(sid)
        self.assertIsNotNone(s.status, "stream %d got no response: %s" % (sid, conn.summary()))
        self.assertTrue(s.ended, "stream %d did not end: %s" % (sid, conn.summary()))
        self.assert_no_error(conn)
        return s

    def assert_serves(self, conn):
        """A new request on conn is answered 200 with the file's bytes."""
        self.assert_ok(conn, conn.request(HELLO_PATH))
        self.assert_no_error(conn)

    def assert_closed(self, conn, timeout=None):
        """The server closes the connection (EOF or reset) within timeout."""
        conn.wait(lambda: False, timeout)
        self.assertIsNotNone(conn.closed, "connection still open: %s" % conn.summary())


def open_conn(port, alpn=("h2",)):
    """An H2Conn on a recording socket to 127.0.0.1:port, over TLS if WS_H2_TLS."""
    sock = confhelper.connect(port, timeout=WAIT, tls=False)
    if TLS:
        sock = h2_context(alpn).wrap_socket(sock, server_hostname="localhost")
        if "h2" in alpn and sock.selected_alpn_protocol() != "h2":
            sock.close()
            raise AssertionError("ALPN did not select h2: %r" % sock.selected_alpn_protocol())
    return H2Conn(sock)


def digest(data):
    return hashlib.sha256(bytes(data)).hexdigest()


def main():
    unittest.main(verbosity=int(os.environ.get("WS_TEST_VERBOSITY", "1")))


if __name__ == "__main__":
    # python3 h2conf.py make-root DIR: lays out DIR/root (and the secrets beside it)
    # for a target server (WS_H2_TARGET) to serve.
    if len(sys.argv) == 3 and sys.argv[1] == "make-root":
        os.makedirs(sys.argv[2], exist_ok=True)
        print(build_h2_root(sys.argv[2])[0])
    else:
        sys.exit("usage: h2conf.py make-root DIR")
