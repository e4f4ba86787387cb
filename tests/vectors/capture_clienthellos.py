#!/usr/bin/env python3
"""Captures real TLS ClientHellos from real clients, as test vectors for the SNI parser.

Listens on a loopback TCP port, points each client at it, reads records until the whole
ClientHello is in (by the record and handshake lengths), then drops the connection, so no
client ever gets a ServerHello. Writes tests/vectors/<name>.bin (exactly the records that carry
the ClientHello) and tests/vectors/vectors.tsv (file, expected SNI or empty, client).

Run it again to refresh the vectors: python3 tests/vectors/capture_clienthellos.py
Needs openssl, curl and python3 (stdlib only). Every client is bounded by a timeout.
"""

import os
import shutil
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_TIMEOUT = 10.0  # seconds a client may take to send its ClientHello
RECORD_HEADER = 5
HANDSHAKE_RECORD = 22
CLIENT_HELLO = 1
SEGMENT_SIZE = 536

# A long ALPN list and a 251-byte name make a ~6 KiB hello; -max_send_frag 512 (the smallest
# OpenSSL accepts) then makes OpenSSL itself split it over a dozen records.
LONG_NAME = ".".join(["a" * 60, "b" * 60, "c" * 60, "d" * 60, "example"])  # 251 bytes
LONG_ALPN = ",".join("proto-%03d-%s" % (i, "x" * 40) for i in range(120))

PYTHON_CLIENT = r"""
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    ctx.wrap_socket(sock, server_hostname=sys.argv[2])
except (OSError, ssl.SSLError):
    pass
"""


def openssl(*args):
    return lambda port: ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, *args]


# (file stem, expected SNI or "", description, argv builder)
CLIENTS = [
    ("openssl_tls13", "tls13.openssl.example", "openssl s_client, default (TLS 1.3)",
     openssl("-servername", "tls13.openssl.example")),
    ("openssl_tls12", "tls12.openssl.example", "openssl s_client -tls1_2",
     openssl("-tls1_2", "-servername", "tls12.openssl.example")),
    ("openssl_no_sni", "", "openssl s_client -noservername",
     openssl("-noservername")),
    ("curl", "curl.example", "curl -sk --resolve (OpenSSL backend)",
     lambda port: ["curl", "-sk", "--max-time", "5", "--resolve",
                   "curl.example:%d:127.0.0.1" % port, "https://curl.example:%d/" % port]),
    ("python_ssl", "python.example", "python3 ssl.SSLContext.wrap_socket(server_hostname=)",
     lambda port: [sys.executable, "-c", PYTHON_CLIENT, str(port), "python.example"]),
    ("openssl_multi_record", LONG_NAME,
     "openssl s_client -max_send_frag 512, 253-byte name, 120 ALPN protocols (many records)",
     openssl("-servername", LONG_NAME, "-alpn", LONG_ALPN, "-max_send_frag", "512")),
]


def read_exact(conn, buf, n):
    """Reads until buf holds at least n bytes; False on EOF."""
    while len(buf) < n:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        buf.extend(chunk)
    return True


def read_client_hello(conn):
    """Returns (bytes of the records carrying the ClientHello, record count)."""
    buf = bytearray()
    stream = bytearray()
    pos = 0
    records = 0
    while True:
        if not read_exact(conn, buf, pos + RECORD_HEADER):
            raise RuntimeError("client closed before a whole record header")
        if buf[pos] != HANDSHAKE_RECORD:
            raise RuntimeError("record type %d, not handshake" % buf[pos])
        length = int.from_bytes(buf[pos + 3:pos + 5], "big")
        if not read_exact(conn, buf, pos + RECORD_HEADER + length):
            raise RuntimeError("client closed inside a record")
        stream += buf[pos + RECORD_HEADER:pos + RECORD_HEADER + length]
        pos += RECORD_HEADER + length
        records += 1
        if len(stream) >= 4:
            if stream[0] != CLIENT_HELLO:
                raise RuntimeError("handshake type %d, not ClientHello" % stream[0])
            wanted = 4 + int.from_bytes(stream[1:4], "big")
            if len(stream) == wanted:
                return bytes(buf[:pos]), records
            if len(stream) > wanted:
                raise RuntimeError("record continues past the ClientHello")


def segments_in(conn):
    """TCP segments received on conn (Linux tcp_info.tcpi_segs_in, the SYN's ACK included)."""
    info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int.from_bytes(info[140:144], sys.byteorder) if len(info) >= 144 else -1


def capture(listener, argv):
    client = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        listener.settimeout(CLIENT_TIMEOUT)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(CLIENT_TIMEOUT)
            hello, records = read_client_hello(conn)
            return hello, records, segments_in(conn)
    finally:
        try:
            client.wait(timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()


def main():
    for tool in ("openssl", "curl"):
        if shutil.which(tool) is None:
            sys.exit("capture_clienthellos: %s not found" % tool)
    rows = []
    with socket.socket() as listener:
        # A 536-byte MSS (the IPv4 default) instead of loopback's ~64 KiB, so a hello larger
        # than that really spans several TCP segments, as it would on most paths.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, SEGMENT_SIZE)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        for stem, sni, description, make_argv in CLIENTS:
            hello, records, segments = capture(listener, make_argv(port))
            name = stem + ".bin"
            with open(os.path.join(HERE, name), "wb") as f:
                f.write(hello)
            rows.append((name, sni, description))
            print("%-26s %5d bytes, %2d record(s), %2d TCP segment(s) in, SNI %r" %
                  (name, len(hello), records, segments, sni))
    with open(os.path.join(HERE, "vectors.tsv"), "w") as f:
        f.write("# file\texpected SNI (empty: none)\tclient\n")
        for row in rows:
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
