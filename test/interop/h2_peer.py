#!/usr/bin/python3
"""An HTTP/2 peer built only on python3-h2, hyperframe and Python's ssl, for the lean engine's
interop tests (test/interop/h2-session-python.test.ts). Run with /usr/bin/python3 (Debian's h2 4.1.0).

server mode: mutual TLS 1.3 with ALPN h2 on 127.0.0.1, prints `port <n>` on stdout, then serves
connections one after another. Each CONNECT stream picks what it does with request headers:
  x-scenario: padded        200 with several header fields, then x-size bytes in padded DATA frames
              small-frames  200, then x-size bytes in DATA frames of x-frame bytes
              trailers      200, a body, then trailers that end the stream
              sink          200; reads to END_STREAM, answers the sha256 hex of what came, ends
--window sets this side's SETTINGS_INITIAL_WINDOW_SIZE; received data is acknowledged as read.
Payload bytes are i % 251 for i = 0.. (the test computes the same).

client mode: connects to --port, opens three CONNECT streams (HEADERS with the PRIORITY flag,
padded HEADERS, both), sends each x-size bytes in padded DATA frames and ends; prints one JSON
line with each stream's status, the bytes echoed back and whether they matched.
"""
import argparse
import hashlib
import json
import select
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
from hyperframe.frame import Frame, HeadersFrame


def pattern(start, n):
    return bytes((i % 251) for i in range(start, start + n))


class Outbound:
    """What a stream still has to send, sent as the peer's windows allow."""

    def __init__(self):
        self.chunks = []  # (bytes, pad_length)
        self.end = None  # None, or a list of trailers ([] for a plain END_STREAM)


class Peer:
    def __init__(self, sock, conn):
        self.sock = sock
        self.conn = conn
        self.out = {}
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def queue(self, stream_id, data, frame_bytes=16384, pad=0):
        o = self.out.setdefault(stream_id, Outbound())
        for at in range(0, len(data), frame_bytes):
            o.chunks.append((data[at:at + frame_bytes], pad))

    def finish(self, stream_id, trailers=None):
        self.out.setdefault(stream_id, Outbound()).end = trailers or []

    def pump(self):
        for stream_id, o in list(self.out.items()):
            while o.chunks:
                data, pad = o.chunks[0]
                allowed = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
                extra = pad + 1 if pad else 0
                if allowed <= extra:
                    break
                piece = data[:allowed - extra]
                self.conn.send_data(stream_id, piece, pad_length=pad if pad else None)
                if len(piece) < len(data):
                    o.chunks[0] = (data[len(piece):], pad)
                else:
                    o.chunks.pop(0)
            if not o.chunks and o.end is not None:
                if o.end:
                    self.conn.send_headers(stream_id, o.end, end_stream=True)
                else:
                    self.conn.end_stream(stream_id)
                del self.out[stream_id]
        self.flush()

    def read(self, timeout):
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return []
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return []
        events = self.conn.receive_data(data)
        return events


def serve(sock, window):
    # h2 4.1.0's inbound validation wants :path and :scheme even on a CONNECT (RFC 9113 §8.5 has neither).
    config = h2.config.H2Configuration(client_side=False, validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.local_settings = h2.settings.Settings(client=False, initial_values={
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
        h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
    })
    conn.initiate_connection()
    peer = Peer(sock, conn)
    peer.flush()
    sinks = {}
    while not peer.closed:
        for ev in peer.read(0.05):
            if isinstance(ev, h2.events.RequestReceived):
                h = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v for k, v in ev.headers}
                start_stream(peer, ev.stream_id, h, sinks)
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if ev.stream_id in sinks:
                    sinks[ev.stream_id][0].update(ev.data)
                    sinks[ev.stream_id][1] += len(ev.data)
            elif isinstance(ev, h2.events.StreamEnded):
                if ev.stream_id in sinks:
                    digest, n = sinks.pop(ev.stream_id)
                    peer.queue(ev.stream_id, f"{n} {digest.hexdigest()}".encode())
                    peer.finish(ev.stream_id)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                peer.closed = True
        if not peer.closed:
            peer.pump()


def start_stream(peer, stream_id, h, sinks):
    scenario = h.get("x-scenario", "")
    size = int(h.get("x-size", "0"))
    if scenario == "padded":
        peer.conn.send_headers(stream_id, [(":status", "200"), ("x-custom", "value-" + "abc" * 5),
                                           ("server", "python-h2"), ("cache-control", "private, max-age=0")])
        for i, at in enumerate(range(0, size, 1000)):
            peer.queue(stream_id, pattern(at, min(1000, size - at)), pad=(i * 37) % 256)
        peer.finish(stream_id)
    elif scenario == "small-frames":
        peer.conn.send_headers(stream_id, [(":status", "200")])
        peer.queue(stream_id, pattern(0, size), frame_bytes=int(h.get("x-frame", "10")))
        peer.finish(stream_id)
    elif scenario == "trailers":
        peer.conn.send_headers(stream_id, [(":status", "200")])
        peer.queue(stream_id, b"body before trailers")
        peer.finish(stream_id, [("x-trailer", "done"), ("x-count", "1")])
    elif scenario == "sink":
        peer.conn.send_headers(stream_id, [(":status", "200")])
        sinks[stream_id] = [hashlib.sha256(), 0]
    else:
        peer.conn.send_headers(stream_id, [(":status", "404")], end_stream=True)


def server_main(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
    ctx.load_verify_locations(cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        raw, _ = listener.accept()
        try:
            sock = ctx.wrap_socket(raw, server_side=True)
            serve(sock, args.window)
        except Exception as e:  # one bad connection must not end the server
            print(f"h2_peer: connection ended: {e!r}", file=sys.stderr, flush=True)
        finally:
            raw.close()


def rewrite_headers(data, pad_length):
    """Re-serializes the HEADERS frames in `data` with PADDED and `pad_length` bytes of padding."""
    out = bytearray()
    at = 0
    while at < len(data):
        frame, length = Frame.parse_frame_header(memoryview(data[at:at + 9]))
        frame.parse_body(memoryview(data[at + 9:at + 9 + length]))
        at += 9 + length
        if isinstance(frame, HeadersFrame):
            frame.flags.add("PADDED")
            frame.pad_length = pad_length
        out += frame.serialize()
    return bytes(out)


def client_main(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["h2"])
    ctx.load_verify_locations(cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", args.port)), server_hostname=None)
    config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    peer = Peer(sock, conn)
    peer.flush()
    size = args.size
    kinds = {1: "priority", 3: "padded", 5: "padded+priority"}
    results = {}
    for stream_id, kind in kinds.items():
        headers = [(":method", "CONNECT"), (":authority", f"10.0.0.1:{stream_id}"), ("x-kind", kind)]
        prio = {"priority_weight": 200, "priority_depends_on": 0, "priority_exclusive": False} if "priority" in kind else {}
        conn.send_headers(stream_id, headers, **prio)
        wire = conn.data_to_send()
        sock.sendall(rewrite_headers(wire, 33) if "padded" in kind else wire)
        for i, at in enumerate(range(0, size, 4000)):
            peer.queue(stream_id, pattern(at, min(4000, size - at)), pad=(i * 11) % 200)
        peer.finish(stream_id)
        results[stream_id] = {"kind": kind, "status": None, "bytes": 0, "digest": hashlib.sha256(), "ended": False, "reset": None}
    peer.pump()
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and not peer.closed and not all(r["ended"] or r["reset"] is not None for r in results.values()):
        for ev in peer.read(0.05):
            r = results.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                r["status"] = int(dict(ev.headers)[b":status"])
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                r["digest"].update(ev.data)
                r["bytes"] += len(ev.data)
            elif isinstance(ev, h2.events.StreamEnded):
                r["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                r["reset"] = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                peer.closed = True
        peer.pump()
    expected = hashlib.sha256(pattern(0, size)).hexdigest()
    print(json.dumps({str(k): {"kind": r["kind"], "status": r["status"], "bytes": r["bytes"], "ended": r["ended"],
                               "reset": r["reset"], "intact": r["digest"].hexdigest() == expected}
                      for k, r in results.items()}), flush=True)
    sock.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["server", "client"])
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--port", type=int)
    p.add_argument("--window", type=int, default=65535)
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--timeout", type=float, default=20.0)
    args = p.parse_args()
    (server_main if args.mode == "server" else client_main)(args)


if __name__ == "__main__":
    main()
