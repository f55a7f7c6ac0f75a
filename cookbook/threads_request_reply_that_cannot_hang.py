"""Request/reply between threads over a socket that can never hang a requester.

The requesting thread registers a message id *before* sending, then blocks (with a
timeout) for the answer; the reader thread resolves ids as replies arrive. When the
connection dies, the reader calls ``fail_all``: every blocked requester raises the real
error instead of waiting forever, and new requests are refused.
"""

# Mirrors: seed 002, "Request/reply that can't hang"

from __future__ import annotations

import socket
import threading

import threaded_async as ta


def remote_peer(sock: socket.socket, answer_up_to: int) -> None:
    """The other end: answers the first requests in upper case, then dies."""
    with sock, sock.makefile("rw") as stream:
        for answered, line in enumerate(stream):
            if answered == answer_up_to:
                return  # crash: close the connection without answering
            msg_id, payload = line.rstrip("\n").split(":", 1)
            stream.write(f"{msg_id}:{payload.upper()}\n")
            stream.flush()


def main() -> None:
    ours, theirs = socket.socketpair()
    peer = threading.Thread(target=remote_peer, args=(theirs, 2))
    peer.start()
    reg: ta.RequestRegistry[int, str] = ta.RequestRegistry()

    def reader() -> None:  # the reader thread owns the receiving side
        with ours.makefile("r") as stream:
            for line in stream:
                msg_id, reply = line.rstrip("\n").split(":", 1)
                reg.resolve(int(msg_id), reply)
        reg.fail_all(ConnectionError("reader died: connection closed by peer"))

    reader_thread = threading.Thread(target=reader)
    reader_thread.start()
    send_lock = threading.Lock()

    def send(msg_id: int, payload: str) -> None:
        with send_lock:
            ours.sendall(f"{msg_id}:{payload}\n".encode())

    for msg_id, payload in enumerate(["hello", "world", "anyone there?"]):
        try:
            reply = reg.request(msg_id, send=lambda p, t=payload: send(p.key, t), timeout=10)
            print(f"request {msg_id}: {reply}")
        except ConnectionError as exc:
            print(f"request {msg_id} failed: {exc}")
    try:
        reg.register(99)
    except ta.RegistryClosedError as exc:
        print("new request refused, because:", exc.__cause__)
    reader_thread.join()
    peer.join()
    ours.close()


if __name__ == "__main__":
    main()

# Expected output:
# request 0: HELLO
# request 1: WORLD
# request 2 failed: reader died: connection closed by peer
# new request refused, because: reader died: connection closed by peer
