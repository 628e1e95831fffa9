"""Test certificates for the HTTPS tests, made at test time with the `openssl` command.

No key is ever committed: each process makes its own CA and server certificates in
a temporary directory that is removed when the process exits. Making an ECDSA
P-256 pair takes a few milliseconds; an RSA one a little longer.

    pki = TestPKI()                       # a fresh CA in a fresh directory
    pair = pki.issue("b.test", ["DNS:b.test", "DNS:*.b.test"])
    ctx = pki.client_context()            # trusts only this CA
    default_pki()                         # the process-wide CA with a localhost pair

A CertPair names its files (cert, key) and what the tests check on the peer
certificate: the subject's common name, the SAN entries and the serial number.
"""

import atexit
import os
import shutil
import ssl
import subprocess
import tempfile
import threading

OPENSSL = shutil.which("openssl")

# A certificate is valid from an hour ago (clock skew) for two days: long enough
# for any test run, short enough that a leaked file is worthless.
_DAYS = "2"


class CertPair:
    """A certificate and its key, both PEM files in the PKI's directory."""

    def __init__(self, cert, key, cn, sans, serial):
        self.cert = cert
        self.key = key
        self.cn = cn
        self.sans = list(sans)  # "DNS:x" / "IP:1.2.3.4", as given to openssl
        self.serial = serial

    def args(self):
        """The server flags that load this pair."""
        return ["--tls-cert", self.cert, "--tls-key", self.key]

    def __repr__(self):
        return "CertPair(cn=%r, serial=%d)" % (self.cn, self.serial)


def _run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), p.returncode,
                                                     p.stderr.decode("utf-8", "replace")))
    return p.stdout


def _keygen_args(kind):
    if kind == "ec":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    if kind == "rsa":
        return ["-newkey", "rsa:2048"]
    raise ValueError("key kind %r: use 'ec' or 'rsa'" % kind)


class TestPKI:
    """A throw-away CA that issues server certificates, in its own temporary directory.

    Every file is removed by cleanup(), which also runs at interpreter exit.
    """

    def __init__(self, name="webserver test CA"):
        if OPENSSL is None:
            raise RuntimeError("the openssl command is not installed")
        self.dir = tempfile.mkdtemp(prefix="ws-tls-")
        os.chmod(self.dir, 0o700)
        atexit.register(self.cleanup)
        self._serial = 0x1000
        self._lock = threading.Lock()
        self.ca_cert = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        _run([OPENSSL, "req", "-x509", "-new", "-nodes"] + _keygen_args("ec") +
             ["-keyout", self.ca_key, "-out", self.ca_cert, "-days", _DAYS, "-subj", "/CN=" + name,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], self.dir)

    def next_serial(self):
        with self._lock:
            self._serial += 1
            return self._serial

    def issue(self, cn, sans, kind="ec", serial=None, stem=None):
        """A server certificate for cn with the SAN entries `sans` (["DNS:a.test",
        "IP:127.0.0.1"...]), signed by this CA; kind is "ec" (P-256) or "rsa" (2048).
        Returns a CertPair whose files are <stem>.pem and <stem>.key in self.dir."""
        serial = self.next_serial() if serial is None else serial
        stem = os.path.join(self.dir, stem or "%s-%d" % (cn.replace("*", "star"), serial))
        csr, ext = stem + ".csr", stem + ".ext"
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature%s\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n"
                    "subjectAltName=%s\n" % (",keyEncipherment" if kind == "rsa" else "", ",".join(sans)))
        _run([OPENSSL, "req", "-new", "-nodes"] + _keygen_args(kind) +
             ["-keyout", stem + ".key", "-out", csr, "-subj", "/CN=" + cn], self.dir)
        _run([OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
              "-set_serial", str(serial), "-days", _DAYS, "-extfile", ext, "-out", stem + ".pem"], self.dir)
        os.chmod(stem + ".key", 0o600)
        os.unlink(csr)
        os.unlink(ext)
        return CertPair(stem + ".pem", stem + ".key", cn, sans, serial)

    def client_context(self, minimum=None, maximum=None):
        """A client context that trusts this CA only and checks host names."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca_cert)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
        return ctx

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


_default = None
_default_lock = threading.Lock()


def default_pki():
    """The process-wide PKI: made on first use, with `localhost_pair` issued for
    localhost and 127.0.0.1 (ECDSA P-256)."""
    global _default
    with _default_lock:
        if _default is None:
            pki = TestPKI()
            pki.localhost_pair = pki.issue("localhost", ["DNS:localhost", "IP:127.0.0.1"], stem="localhost")
            _default = pki
        return _default


def peer_names(sslsock):
    """(subject CN, [SAN entries as "DNS:x"/"IP:x"], serial) of the verified peer certificate."""
    cert = sslsock.getpeercert()
    cn = None
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
    sans = ["%s:%s" % (("IP" if k == "IP Address" else k), v) for k, v in cert.get("subjectAltName", ())]
    return cn, sans, int(cert["serialNumber"], 16)
