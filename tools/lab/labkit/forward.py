# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TCP forwarding from a listener inside a network namespace to an address of the root namespace: how the
proxies of a cluster reach their istiod (which runs on the root namespace's loopback beside its API server)."""

from __future__ import annotations

import socket
import threading

from labkit import netns


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def _serve(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            conn, dummy = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            conn.close()
            continue
        threads = [threading.Thread(target=_pipe, args=pair, daemon=True)
                   for pair in ((conn, upstream), (upstream, conn))]
        for t in threads:
            t.start()
        threading.Thread(target=_close_after, args=(threads, conn, upstream), daemon=True).start()


def _close_after(threads, *sockets) -> None:
    for t in threads:
        t.join()
    for s in sockets:
        s.close()


def forward(ns: str, listen: tuple[str, int], target: tuple[str, int]) -> socket.socket:
    """Listen on ``listen`` inside ``ns`` and forward every connection to ``target`` (root namespace), in
    background threads; close the returned socket to stop accepting."""
    listener = netns.socket_in(ns)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(listen)
    listener.listen(128)
    threading.Thread(target=_serve, args=(listener, target), daemon=True).start()
    return listener
