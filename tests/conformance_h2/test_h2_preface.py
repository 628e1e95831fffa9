"""RFC 9113 §3: starting HTTP/2 (the connection preface, ALPN, h2c with prior knowledge)."""

import time
import unittest

from h2conf import (ACK, PING, PREFACE, PROTOCOL_ERROR, SETTINGS, TLS, H2TestCase, main, ping_frame,
                    settings_frame)


class Preface(H2TestCase):

    def test_3_4_server_preface_is_a_settings_frame(self):
        """RFC 9113 §3.4: the server connection preface is a SETTINGS frame, the first frame it sends."""
        conn = self.connect(handshake=False)
        conn.send(PREFACE, settings_frame())
        conn.wait(lambda: len(conn.frames) > 0)
        self.assertTrue(conn.frames, "nothing received: %s" % conn.summary())
        first = conn.frames[0]
        self.assertEqual(first.type, SETTINGS, conn.summary())
        self.assertEqual(first.flags & ACK, 0, "the preface SETTINGS must not be an ACK")
        self.assertEqual(first.sid, 0)
        self.assertEqual(len(first.payload) % 6, 0)

    def test_3_4_server_preface_after_client_preface_alone(self):
        """RFC 9113 §3.4: the 24-octet client preface alone (its SETTINGS not yet sent) gets the server's SETTINGS."""
        conn = self.connect(handshake=False)
        conn.auto_ack = False  # the client's SETTINGS must come before its ACK of the server's
        conn.send(PREFACE)
        conn.wait(lambda: len(conn.frames) > 0)
        self.assertTrue(conn.frames, "nothing received: %s" % conn.summary())
        self.assertEqual(conn.frames[0].type, SETTINGS, conn.summary())
        conn.send(settings_frame(), settings_frame(ack=True))
        self.assertTrue(conn.wait(lambda: conn.settings_acks > 0), conn.summary())
        self.assert_serves(conn)

    def test_3_4_client_settings_acknowledged(self):
        """RFC 9113 §3.4, §6.5.3: the client's preface SETTINGS is acknowledged and the connection serves requests."""
        conn = self.connect(wait_ack=True)
        self.assertEqual(conn.settings_acks, 1)
        self.assert_serves(conn)

    def test_3_4_preface_in_pieces(self):
        """RFC 9113 §3.4: a preface that arrives a few octets at a time is still a preface."""
        conn = self.connect(handshake=False)
        data = PREFACE + settings_frame()
        for i in range(0, len(data), 5):
            conn.send(data[i:i + 5])
            time.sleep(0.01)
        self.assertTrue(conn.wait(lambda: conn.server_settings_frames and conn.settings_acks), conn.summary())
        self.assert_serves(conn)

    def test_3_4_invalid_preface_closes_the_connection(self):
        """RFC 9113 §3.4: an invalid connection preface: the server MUST terminate the connection."""
        conn = self.connect(handshake=False)
        conn.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", settings_frame())
        self.assert_closed(conn)
        self.assertEqual([f for f in conn.frames if f.sid != 0], [], "stream frames after an invalid preface")

    def test_3_4_preface_not_followed_by_settings(self):
        """RFC 9113 §3.4: the preface MUST be followed by SETTINGS; a PING instead is a connection error PROTOCOL_ERROR."""
        conn = self.connect(handshake=False)
        conn.send(PREFACE, ping_frame())
        self.assert_connection_error(conn, PROTOCOL_ERROR)
        self.assertEqual([f for f in conn.frames if f.type == PING], [], "the PING was answered")

    @unittest.skipUnless(TLS, "ALPN is negotiated over TLS only")
    def test_3_2_alpn_selects_h2(self):
        """RFC 9113 §3.2: a client offering "h2" and "http/1.1" by ALPN gets "h2"."""
        conn = self.connect(alpn=("h2", "http/1.1"))
        self.assertEqual(conn.sock.selected_alpn_protocol(), "h2")
        self.assert_serves(conn)


if __name__ == "__main__":
    main()
