"""
social_lib.py -- helpers for the interactions tests through an edge:
JSON calls over /api/, and an SSE client that parses the stream as it
arrives (test_social_edge.py, bench/sse_load.py shares the parser idea).

Not here: starting nodes (cdn.py).
"""

import hashlib
import json
import socket
import time

import cdn as cdnlib

SECRET = "scenario-token-secret-0123456789"
EDGE_KEY = "scenario-edge-key-0123456789"
KINDS = "like,love,fire"


def origin_conf(**more):
    conf = {
        "social.token_secret": SECRET,
        "social.edge_key": EDGE_KEY,
        "social.reactions": KINDS,
        "social.reaction_bucket": "1s",
    }
    conf.update(more)
    return conf


def edge_conf(**more):
    conf = {"social.edge_key": EDGE_KEY, "social.reactions": KINDS, "workers": 2}
    conf.update(more)
    return conf


class Api:
    """JSON over a node's /api/, one connection per request."""

    def __init__(self, node):
        self.node = node

    def call(self, method, path, body=None, token=None, headers=None, raw=None):
        hdrs = {"Connection": "close"}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        with cdnlib.RawConn(self.node.addr, timeout=30) as c:
            return c.request(method, path, hdrs, data)

    def ok(self, method, path, body=None, token=None, want=200):
        r = self.call(method, path, body, token)
        assert r.status == want, f"{method} {path}: {r.status} {r.text}"
        return r.json()

    def session(self, name="viewer"):
        return self.ok("POST", "/api/sessions", {"name": name}, want=201)["token"]


def error_code(r):
    j = r.json()
    assert set(j) == {"error"}, r.text
    return j["error"]["code"]


class SSE:
    """
    One viewer on /events/{name}: reads the stream incrementally and keeps
    every event as {"id", "event", "data"} (data parsed as JSON).
    """

    def __init__(self, node, path, last_event_id=None, rcvbuf=None, timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(node.addr)
        hdrs = f"GET {path} HTTP/1.1\r\nHost: cascade.test\r\nAccept: text/event-stream\r\n"
        if last_event_id is not None:
            hdrs += f"Last-Event-ID: {last_event_id}\r\n"
        self.sock.sendall((hdrs + "\r\n").encode())
        self.raw = b""
        self.text = b""  # dechunked
        self.events = []
        self.status = None
        self.closed = False
        self._head_done = False

    def _dechunk(self):
        while True:
            i = self.raw.find(b"\r\n")
            if i < 0:
                return
            size = int(self.raw[:i].split(b";")[0], 16)
            if size == 0:
                self.closed = True
                return
            if len(self.raw) < i + 2 + size + 2:
                return
            self.text += self.raw[i + 2 : i + 2 + size]
            self.raw = self.raw[i + 2 + size + 2 :]

    def _parse(self):
        while True:
            i = self.text.find(b"\n\n")
            if i < 0:
                return
            block, self.text = self.text[:i].decode(), self.text[i + 2 :]
            ev = {"id": None, "event": "message", "data": ""}
            data = []
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    data.append(value)
                elif name in ("id", "event"):
                    ev[name] = value
            if not data:
                continue
            ev["data"] = json.loads("\n".join(data))
            self.events.append(ev)

    def pump(self, timeout=0.05):
        """Reads what is there (waits up to timeout); False once the edge closed."""
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        except (ConnectionResetError, BrokenPipeError):
            self.closed = True
            return False
        if not chunk:
            self.closed = True
            return False
        self.raw += chunk
        if not self._head_done:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return True
            head, self.raw = self.raw[:i].decode("latin-1"), self.raw[i + 4 :]
            self.status = int(head.split(" ")[1])
            self._head_done = True
        self._dechunk()
        self._parse()
        return True

    def wait(self, pred, timeout=10.0, what="an SSE event"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if pred(e)]
            if found:
                return found[0]
            if not self.pump(0.05):
                break
        raise AssertionError(f"no {what} within {timeout}s; got {self.events[-5:]}")

    def of(self, event):
        return [e for e in self.events if e["event"] == event]

    def close(self):
        self.sock.close()


def reaction_counts(events, kind):
    """bucket_ms -> count from the reactions events seen (each is the bucket's count now)."""
    out = {}
    for e in events:
        if e["event"] != "reactions":
            continue
        for b in e["data"]["buckets"]:
            if b["kind"] == kind:
                out[b["bucket_ms"]] = b["count"]
    return out


def rss_kib(node):
    with open(f"/proc/{node.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sanitized():
    """True when cascade-edge is an ASan build: its RSS then holds the allocator's quarantine."""
    return b"AddressSanitizer" in cdnlib.binary("cascade-edge").read_bytes()


class BodySink:
    """
    A stand-in origin for request-body tests: reads each request's body
    (Content-Length) as it comes, keeps per request what arrived so far,
    when, and whether the body ended or the connection closed before, and
    answers 200 {"bytes": n, "sha256": ...} with Connection: close.
    A cdn.ScriptedUpstream underneath; add the sink to cdn.servers so it is
    closed with the test's nodes.
    """

    def __init__(self):
        self.reqs = []  # dicts: target, length, received, first_at, done, aborted
        self.server = cdnlib.ScriptedUpstream(self._handle)
        self.port = self.server.port
        self.hostport = self.server.hostport

    def _handle(self, request_line, hdrs, conn):
        want = int(hdrs.get("content-length", "0"))
        rec = {"target": request_line.split(" ")[1], "length": want, "received": 0,
               "first_at": None, "done": False, "aborted": False}
        self.reqs.append(rec)
        digest = hashlib.sha256()
        body = self.server.pending(conn)
        while True:
            if body:
                body = body[: want - rec["received"]]
                if rec["first_at"] is None:
                    rec["first_at"] = time.monotonic()
                digest.update(body)
                rec["received"] += len(body)
            if rec["received"] >= want:
                break
            body = conn.recv(1 << 16)
            if not body:
                rec["aborted"] = True
                return False
        rec["done"] = True
        out = json.dumps({"bytes": rec["received"], "sha256": digest.hexdigest()}).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store"
            b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(out) + out
        )
        return False  # Connection: close

    def of(self, prefix):
        """The requests whose target starts with prefix (the edge's own calls are left out)."""
        return [r for r in list(self.reqs) if r["target"].startswith(prefix)]

    def close(self):
        self.server.close()
