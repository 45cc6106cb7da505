#!/usr/bin/python3
"""HBONE client built only on python3-h2 and Python's ssl: an independent peer for Ambit's
interop tests (test/interop/python-h2.test.ts). No-SNI mutual TLS 1.3 with ALPN h2, then one
plain CONNECT (RFC 9113 section 8.5: :method and :authority only) whose stream carries stdin to
the peer and the peer's bytes to stdout.

Exit codes: 0 the last stream answered 200 and ended cleanly in both directions; 2 TLS failure
(handshake, alert, no h2) or the connection closed under us; 3 --expect-san mismatch (nothing was
sent); 4 the last stream answered a status other than 200; 5 a stream was reset or the session
got GOAWAY; 6 timeout; 1 bad usage.

Every status is printed on stderr as `hbone_client: stream=<n> status=<code>`.
--resume-check instead makes two TLS connections, the second offering the first's session, and
prints {"first_has_ticket": bool, "session_reused": bool} on stdout.
Run with /usr/bin/python3 (Debian's python3-h2 4.1.0).
"""
import argparse
import json
import os
import select
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions

EXIT_OK, EXIT_USAGE, EXIT_TLS, EXIT_SAN, EXIT_STATUS, EXIT_RESET, EXIT_TIMEOUT = 0, 1, 2, 3, 4, 5, 6
MAX_BUFFERED_BYTES = 1 << 20


class Failure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def log(msg):
    print(f"hbone_client: {msg}", file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--cert", help="client certificate chain PEM (omit to send no certificate)")
    p.add_argument("--key", help="client private key PEM")
    p.add_argument("--ca", required=True, help="roots to verify the server with")
    p.add_argument("--authority", help="CONNECT :authority of the first stream")
    p.add_argument("--method", default="CONNECT", help="method of the first stream (a non-CONNECT one gets :scheme and :path)")
    p.add_argument("--authority2", help="then a second CONNECT in the same session; stdin/stdout go to this one")
    p.add_argument("--expect-san", help="abort before sending anything unless the server's URI SAN is exactly this")
    p.add_argument("--resume-check", action="store_true", help="report whether a second connection resumes the first's TLS session")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole run")
    args = p.parse_args()
    if (args.cert is None) != (args.key is None):
        p.error("--cert and --key go together")
    if not args.resume_check and not args.authority:
        p.error("--authority is required")
    return args


def tls_context(args):
    # The settings interop-peers.md gives for a no-SNI mTLS HBONE client.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["h2"])
    ctx.load_verify_locations(cafile=args.ca)
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    return ctx


def tls_connect(ctx, args, deadline, session=None):
    try:
        raw = socket.create_connection((args.host, args.port), timeout=remaining(deadline))
    except OSError as e:
        raise Failure(EXIT_TLS, f"tcp connect to {args.host}:{args.port} failed: {e}")
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock = ctx.wrap_socket(raw, server_hostname=None, session=session)
    except (ssl.SSLError, OSError) as e:
        raw.close()
        raise Failure(EXIT_TLS, f"tls handshake failed: {e}")
    if sock.selected_alpn_protocol() != "h2":
        sock.close()
        raise Failure(EXIT_TLS, f"server did not negotiate ALPN h2 (got {sock.selected_alpn_protocol()!r})")
    sock.settimeout(None)  # from here on, select() and the deadline bound every wait
    return sock


def close_gracefully(sock):
    """FIN, then read until the server's FIN. Closing with unread data (TLS 1.3 tickets, SETTINGS)
    would make our kernel send RST, and Node's http2 server can miss a reset and keep the session."""
    try:
        sock.settimeout(1.0)
        sock.shutdown(socket.SHUT_WR)  # on an SSLSocket this drops the TLS state: the rest is drained raw
        until = time.monotonic() + 1.0
        while time.monotonic() < until and sock.recv(65536):
            pass
    except (OSError, ValueError):
        pass
    finally:
        sock.close()


def server_uri_sans(sock):
    return [v for (k, v) in sock.getpeercert().get("subjectAltName", ()) if k == "URI"]


def remaining(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise Failure(EXIT_TIMEOUT, "timed out")
    return left


class Stream:
    def __init__(self, number, stream_id, carries_stdin):
        self.number = number
        self.id = stream_id
        self.carries_stdin = carries_stdin
        self.status = None
        self.remote_ended = False
        self.local_ended = False
        self.reset_code = None
        self.pending = bytearray()

    def finished(self):
        return self.reset_code is not None or (self.remote_ended and self.local_ended)


class Session:
    """One HTTP/2 client session over the TLS socket, driven by a select() loop."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, validate_outbound_headers=False, header_encoding="utf-8")
        )
        self.stream = None
        self.stdin_open = True
        self.goaway = None  # (error code, last stream id) once the server sent GOAWAY
        self.got_settings = False
        self.any_response = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except (ssl.SSLError, OSError) as e:
                raise Failure(EXIT_TLS, f"server closed the connection while we were sending{self.hint()}: {e}")

    def hint(self):
        # In TLS 1.3 the server checks our certificate after our side of the handshake is done,
        # so a refusal shows up as a close on the first read or write.
        return "" if self.any_response else " before any response (e.g. it refused our certificate)"

    def start(self):
        self.conn.initiate_connection()
        self.flush()

    def open(self, number, method, authority, carries_stdin):
        headers = [(":method", method), (":authority", authority)]
        if method != "CONNECT":
            headers += [(":scheme", "https"), (":path", "/")]
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, headers, end_stream=False)
        self.flush()
        self.stream = Stream(number, stream_id, carries_stdin)
        return self.stream

    def run_until_finished(self):
        s = self.stream
        while not s.finished():
            # A graceful GOAWAY that covers our stream lets it finish; anything else ends it.
            if self.goaway is not None and (self.goaway[0] != 0 or self.goaway[1] < s.id):
                raise Failure(EXIT_RESET, f"session got GOAWAY (error {self.goaway[0]}, last stream {self.goaway[1]}) before stream {s.number} finished")
            self.pump_stdin()
            self.send_pending()
            want = [self.sock]
            if s.carries_stdin and s.status == 200 and self.stdin_open and len(s.pending) < MAX_BUFFERED_BYTES:
                want.append(sys.stdin.buffer)
            if self.sock.pending() == 0:
                ready, _, _ = select.select(want, [], [], min(remaining(self.deadline), 0.5))
            else:
                ready = [self.sock]
            if sys.stdin.buffer in ready:
                self.read_stdin()
            if self.sock in ready:
                self.read_socket()

    def read_stdin(self):
        chunk = os.read(sys.stdin.fileno(), 65536)
        if chunk:
            self.stream.pending += chunk
        else:
            self.stdin_open = False

    def pump_stdin(self):
        s = self.stream
        if s.status != 200 or s.reset_code is not None:
            return
        if not s.carries_stdin and not s.local_ended:
            self.end_local()

    def send_pending(self):
        s = self.stream
        if s.status != 200 or s.reset_code is not None or s.local_ended:
            return
        while s.pending:
            window = min(self.conn.local_flow_control_window(s.id), self.conn.max_outbound_frame_size)
            if window <= 0:
                break
            chunk = bytes(s.pending[:window])
            del s.pending[:window]
            self.conn.send_data(s.id, chunk)
        if not s.pending and not self.stdin_open:
            self.end_local()
        self.flush()

    def end_local(self):
        s = self.stream
        if s.local_ended:
            return
        try:
            self.conn.end_stream(s.id)
        except h2.exceptions.StreamClosedError:
            pass
        s.local_ended = True
        self.flush()

    def read_socket(self):
        try:
            data = self.sock.recv(65536)
        except ssl.SSLError as e:
            raise Failure(EXIT_TLS, f"tls error from server: {e}")
        except OSError as e:
            raise Failure(EXIT_TLS, f"server closed the connection{self.hint()}: {e}")
        if not data:
            raise Failure(EXIT_TLS, f"server closed the connection{self.hint()}")
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            raise Failure(EXIT_RESET, f"http/2 protocol error: {e}")
        for ev in events:
            self.handle(ev)
        self.flush()

    def handle(self, ev):
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.got_settings = True
        s = self.stream
        mine = s is not None and getattr(ev, "stream_id", None) == s.id
        if isinstance(ev, h2.events.ResponseReceived) and mine:
            status = dict(ev.headers).get(":status")
            s.status = int(status) if status else 0
            self.any_response = True
            log(f"stream={s.number} status={s.status}")
            if s.status != 200:
                # A refusal carries no tunnel: finish our side so the server can close the stream.
                self.end_local()
        elif isinstance(ev, h2.events.DataReceived) and mine:
            if ev.data and s.carries_stdin and s.status == 200:
                sys.stdout.buffer.write(ev.data)
                sys.stdout.buffer.flush()
            self.conn.acknowledge_received_data(ev.flow_controlled_length, s.id)
        elif isinstance(ev, h2.events.StreamEnded) and mine:
            s.remote_ended = True
            if s.status is None:
                s.reset_code = -1
                log(f"stream={s.number} ended without a response")
            elif s.status != 200:
                self.end_local()
        elif isinstance(ev, h2.events.StreamReset) and mine:
            s.reset_code = ev.error_code
            log(f"stream={s.number} reset by server (error {ev.error_code})")
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = (ev.error_code, ev.last_stream_id if ev.last_stream_id is not None else 0)
            log(f"session GOAWAY (error {ev.error_code}, last stream {ev.last_stream_id})")

    def exchange_settings(self):
        """Sends our preface and reads until the server's SETTINGS (TLS 1.3 tickets come before it)."""
        self.start()
        while not self.got_settings:
            if self.sock.pending() == 0:
                ready, _, _ = select.select([self.sock], [], [], min(remaining(self.deadline), 0.5))
                if not ready:
                    continue
            self.read_socket()

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except (Failure, h2.exceptions.H2Error):
            pass  # the connection is already broken: whatever failed first is what we report
        close_gracefully(self.sock)


def run_tunnel(args, deadline):
    ctx = tls_context(args)
    sock = tls_connect(ctx, args, deadline)
    if args.expect_san is not None:
        sans = server_uri_sans(sock)
        if sans != [args.expect_san]:
            close_gracefully(sock)
            raise Failure(EXIT_SAN, f"server identity {sans} is not {args.expect_san!r}; nothing sent")
    session = Session(sock, deadline)
    try:
        session.start()
        plan = [(args.method, args.authority)]
        if args.authority2:
            plan.append(("CONNECT", args.authority2))
        for i, (method, authority) in enumerate(plan):
            last = i == len(plan) - 1
            stream = session.open(i + 1, method, authority, carries_stdin=last)
            session.run_until_finished()
            if stream.status is None or (stream.reset_code is not None and stream.reset_code != 0):
                raise Failure(EXIT_RESET, f"stream {stream.number} ({authority}) was reset before it finished (error {stream.reset_code})")
            if last and stream.status != 200:
                raise Failure(EXIT_STATUS, f"stream {stream.number} ({authority}) answered {stream.status}")
            if last and stream.reset_code is not None:
                raise Failure(EXIT_RESET, f"stream {stream.number} ({authority}) was reset (error {stream.reset_code})")
    finally:
        session.close()


def run_resume_check(args, deadline):
    ctx = tls_context(args)
    first = Session(tls_connect(ctx, args, deadline), deadline)
    try:
        first.exchange_settings()
        session = first.sock.session
    finally:
        first.close()
    has_ticket = bool(session is not None and session.has_ticket)
    second = Session(tls_connect(ctx, args, deadline, session=session), deadline)
    try:
        reused = bool(second.sock.session_reused)
        second.exchange_settings()
    finally:
        second.close()
    print(json.dumps({"first_has_ticket": has_ticket, "session_reused": reused}), flush=True)


def main():
    args = parse_args()
    deadline = time.monotonic() + args.timeout
    try:
        if args.resume_check:
            run_resume_check(args, deadline)
        else:
            run_tunnel(args, deadline)
    except Failure as f:
        log(f"error: {f}")
        return f.code
    except KeyboardInterrupt:
        return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
