"""tests/wsclient.py -- a small WebSocket client (RFC 6455) on the standard
library, for the live channel's tests and benchmark: it can also send what
a browser never would (binary, fragments, huge or malformed frames).

    ws = WS(port, "/api/v1/events/ws?since=0", {"Cookie": ..., "Origin": ...})
    ws.status          # 101, or the HTTP status of a refusal (ws.body, ws.headers)
    ws.recv_json(5)    # the next text frame as JSON (pings are answered)
    ws.send_text('{"type": "ping"}')
    ws.close_code      # set when the server sent a close frame
"""
import base64
import json
import os
import socket
import ssl
import struct
import time

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Closed(Exception):
    pass


class WS:
    def __init__(self, port, path, headers=None, host="127.0.0.1", key=None, timeout=10, cafile=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if cafile:  # TLS (through nginx), HTTP/1.1 only
            ctx = ssl.create_default_context(cafile=cafile)
            ctx.set_alpn_protocols(["http/1.1"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""
        self.close_code = None
        self.close_reason = ""
        key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._until(b"\r\n\r\n", timeout)
        first, *rest = head.decode("latin-1").split("\r\n")
        self.status = int(first.split()[1])
        self.headers = {}
        for l in rest:
            if ":" in l:
                k, v = l.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.body = b""
        if self.status != 101:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
            self.body, self.buf = self.buf[:n], self.buf[n:]
            self.sock.close()

    def _until(self, marker, timeout):
        end = time.monotonic() + timeout
        while marker not in self.buf:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed during the handshake")
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        head, self.buf = self.buf[:i], self.buf[i:]
        return head

    def _need(self, n, end):
        while len(self.buf) < n:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed")
            self.buf += chunk

    def send_frame(self, opcode, payload=b"", fin=True, length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if length is None else length
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            head = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self.send_frame(OP_TEXT, text)

    def recv(self, timeout=5):
        """(opcode, payload) of the next data frame; pings are answered."""
        end = time.monotonic() + timeout
        while True:
            self._need(2, end)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                self._need(4, end)
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10, end)
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            self._need(off + n, end)
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            op = b0 & 0x0F
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close_reason = payload[2:].decode("utf-8", "replace")
                raise Closed("closed by the server: %s %s" % (self.close_code, self.close_reason))
            return op, payload

    def recv_json(self, timeout=5):
        op, payload = self.recv(timeout)
        return json.loads(payload)

    def wait_closed(self, timeout=5):
        """The close code the server sends (frames before it are skipped)."""
        end = time.monotonic() + timeout
        try:
            while True:
                self.recv(max(0.01, end - time.monotonic()))
        except Closed:
            return self.close_code

    def close(self):
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
