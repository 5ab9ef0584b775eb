"""A tiny HTTP/1.1 TCP proxy between boto3 and moto_server that can damage request bodies on
the way (flip one byte of each PUT body), so the server stores bytes other than those sent:
a real fault for the store's own sha256 check; or drop PUTs (a connection closed mid-upload).
One thread per connection and direction."""

from __future__ import annotations

import contextlib
import socket
import threading

FLIP_AT = 100  # which byte of a body is flipped (inside the first chunk, past any framing)


class CorruptingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.corrupt = False
        self.flipped = 0
        self.puts = 0
        self.drop_puts_after: int | None = None  # then PUTs get a closed connection instead
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._open += [client, server]
            threading.Thread(target=self._requests, args=(client, server), daemon=True).start()
            threading.Thread(target=_pipe, args=(server, client), daemon=True).start()

    def _requests(self, src: socket.socket, dst: socket.socket) -> None:
        """Forward requests one by one: headers as they are, the body (by Content-Length)
        with one byte flipped when it is a PUT and `corrupt` is on."""
        buf = b""
        with contextlib.suppress(OSError):
            while True:
                while b"\r\n\r\n" not in buf:
                    data = src.recv(65536)
                    if not data:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(buf) < length:
                    data = src.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = bytearray(buf[:length]), buf[length:]
                if lines[0].startswith(b"PUT "):
                    self.puts += 1
                    if self.drop_puts_after is not None and self.puts > self.drop_puts_after:
                        src.close()
                        dst.close()
                        return
                if self.corrupt and lines[0].startswith(b"PUT ") and length > FLIP_AT:
                    body[FLIP_AT] ^= 0xFF
                    self.flipped += 1
                dst.sendall(head + b"\r\n\r\n" + bytes(body))

    def close(self) -> None:
        self._listener.close()
        for s in self._open:
            with contextlib.suppress(OSError):
                s.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
