"""
rtmp_raw.py -- a hand-written RTMP publisher for the scenario tests: every
byte it sends is chosen here, so a test can replay the command sequence an
encoder sends (OBS's, written from the RTMP specification and OBS's
librtmp), or send exactly the broken bytes it wants (a truncated
handshake, garbage chunks, a Set Chunk Size of 0 or 2^31).

What this owns: the simple handshake (C0/C1/C2), AMF0 encoding of the
values commands use, a chunk writer (type 0 headers for a new message
stream, type 1 for media deltas, type 3 continuations, extended
timestamps), and an FLV file reader that yields the tags ffmpeg wrote, so
real H.264 and AAC can be replayed as RTMP messages. Replies are not parsed
into messages: tests look for the onStatus codes in the bytes received.

Not here: the fixtures (cdn.py), the tests (test_origin_live.py).
"""

import os
import socket
import struct
import time

MSG_SET_CHUNK_SIZE = 1
MSG_WINDOW_ACK_SIZE = 5
MSG_AUDIO = 8
MSG_VIDEO = 9
MSG_DATA_AMF0 = 18
MSG_COMMAND_AMF0 = 20

# ---------------------------------------------------------------- AMF0 (SPEC: AMF0 2.2 - 2.12)


class EcmaArray(dict):
    """A dict encoded as an AMF0 ECMA array (onMetaData's body)."""


def amf0(value):
    if value is None:
        return b"\x05"
    if isinstance(value, bool):
        return b"\x01" + (b"\x01" if value else b"\x00")
    if isinstance(value, (int, float)):
        return b"\x00" + struct.pack(">d", float(value))
    if isinstance(value, str):
        raw = value.encode()
        return b"\x02" + struct.pack(">H", len(raw)) + raw
    if isinstance(value, dict):
        if isinstance(value, EcmaArray):
            out = b"\x08" + struct.pack(">I", len(value))
        else:
            out = b"\x03"
        for k, v in value.items():
            raw = k.encode()
            out += struct.pack(">H", len(raw)) + raw + amf0(v)
        return out + b"\x00\x00\x09"
    raise TypeError(f"no AMF0 encoding for {type(value).__name__}")


def amf0_all(*values):
    return b"".join(amf0(v) for v in values)


# ---------------------------------------------------------------- chunks (SPEC: RTMP 1.0 5.3)


class ChunkWriter:
    """Cuts messages into chunks of `chunk_size`; remembers each chunk stream's last header."""

    def __init__(self):
        self.chunk_size = 128
        self.last = {}  # csid -> (stream_id, timestamp)

    @staticmethod
    def _basic(fmt, csid):
        if csid < 64:
            return bytes([(fmt << 6) | csid])
        if csid < 320:
            return bytes([(fmt << 6), csid - 64])
        return bytes([(fmt << 6) | 1]) + struct.pack("<H", csid - 64)

    def message(self, csid, msg_type, stream_id, timestamp, payload, compress=True):
        prev = self.last.get(csid)
        if compress and prev is not None and prev[0] == stream_id and timestamp >= prev[1]:
            fmt, ts_field = 1, timestamp - prev[1]  # delta, same message stream
        else:
            fmt, ts_field = 0, timestamp
        ext = ts_field >= 0xFFFFFF
        hdr = self._basic(fmt, csid)
        ts24 = 0xFFFFFF if ext else ts_field
        hdr += struct.pack(">I", ts24)[1:] + struct.pack(">I", len(payload))[1:] + bytes([msg_type])
        if fmt == 0:
            hdr += struct.pack("<I", stream_id)
        ext_bytes = struct.pack(">I", ts_field & 0xFFFFFFFF) if ext else b""
        out = hdr + ext_bytes + payload[: self.chunk_size]
        rest = payload[self.chunk_size :]
        while rest:
            # SPEC: 5.3.1.3 -- the extended timestamp is repeated on type-3 chunks.
            out += self._basic(3, csid) + ext_bytes + rest[: self.chunk_size]
            rest = rest[self.chunk_size :]
        self.last[csid] = (stream_id, timestamp)
        return out

    def set_chunk_size(self, size, announce_as=None):
        """The Set Chunk Size message; our later chunks use `size` (announce_as: lie about it)."""
        value = size if announce_as is None else announce_as
        out = self.message(2, MSG_SET_CHUNK_SIZE, 0, 0, struct.pack(">I", value & 0xFFFFFFFF),
                           compress=False)
        self.chunk_size = size
        return out

    def command(self, csid, stream_id, name, tid, *args):
        return self.message(csid, MSG_COMMAND_AMF0, stream_id, 0, amf0_all(name, tid, *args),
                            compress=False)


# ---------------------------------------------------------------- a connection


class RawPublisher:
    """One TCP connection to an RTMP server, with the handshake and a few helpers."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.received = b""
        self.w = ChunkWriter()

    def send(self, data):
        self.sock.sendall(data)

    def handshake(self):
        """The simple handshake as librtmp does it without SWF verification (C1 version 0)."""
        c1 = struct.pack(">II", int(time.monotonic() * 1000) & 0xFFFFFFFF, 0) + os.urandom(1528)
        self.send(b"\x03" + c1)
        s0s1s2 = self.recv_exact(1 + 1536 + 1536)
        assert s0s1s2[0] == 3, f"S0 is {s0s1s2[0]}"
        s1 = s0s1s2[1:1537]
        self.send(s1)  # C2 echoes S1
        return s0s1s2

    def recv_exact(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        buf = b""
        while len(buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def read_until(self, needle, timeout=5.0):
        """Reads until `needle` (bytes) was received; True, or False on close or timeout."""
        deadline = time.monotonic() + timeout
        while needle not in self.received:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return False
            if not chunk:
                return False
            self.received += chunk
        return True

    def closed_by_peer(self, timeout=5.0):
        """True when the server closes (or resets) within timeout; what it sent is kept."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.received += chunk

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- FLV files (SPEC: FLV 10.1 E.2-E.4)


def flv_tags(path):
    """(type, timestamp_ms, body) of every tag of an FLV file, in order."""
    data = open(path, "rb").read()
    assert data[:3] == b"FLV", "not an FLV file"
    off = struct.unpack(">I", data[5:9])[0] + 4
    tags = []
    while off + 11 <= len(data):
        ttype = data[off] & 0x1F
        size = struct.unpack(">I", b"\x00" + data[off + 1 : off + 4])[0]
        ts = struct.unpack(">I", b"\x00" + data[off + 4 : off + 7])[0] | (data[off + 7] << 24)
        body = data[off + 11 : off + 11 + size]
        if len(body) < size:
            break
        tags.append((ttype, ts, body))
        off += 11 + size + 4
    return tags


def obs_publish(pub, app, key, tc_url, tags, chunk_size=4096, ts_offset=0, compress=True):
    """
    Replays OBS's publish sequence on a RawPublisher that finished its
    handshake: Set Chunk Size, connect (OBS's command object), releaseStream,
    FCPublish, createStream, publish, @setDataFrame onMetaData, the media
    tags, FCUnpublish, deleteStream. Returns the bytes the server sent.
    Raises AssertionError naming the step whose answer did not come.

    ts_offset is added to every media timestamp, modulo 2^32 (an encoder
    whose clock is about to wrap); compress=False sends every media message
    with a type-0 header, so large timestamps travel as extended timestamps
    on every chunk, continuations included.
    """
    w = pub.w
    pub.send(w.set_chunk_size(chunk_size))
    pub.send(w.command(3, 0, "connect", 1, {
        "app": app,
        "type": "nonprivate",
        "flashVer": "FMLE/3.0 (compatible; FMSc/1.0)",
        "swfUrl": tc_url,
        "tcUrl": tc_url,
    }))  # fmt: skip
    assert pub.read_until(b"NetConnection.Connect.Success"), "no connect _result"
    pub.send(w.command(3, 0, "releaseStream", 2, None, key))
    pub.send(w.command(3, 0, "FCPublish", 3, None, key))
    pub.send(w.command(3, 0, "createStream", 4, None))
    # _result of createStream: transaction id 4.0, null, stream id.
    assert pub.read_until(amf0_all("_result", 4, None)), "no createStream _result"
    stream_id = 1
    pub.send(w.command(4, stream_id, "publish", 5, None, key, "live"))
    if not pub.read_until(b"NetStream.Publish.", timeout=5.0):
        raise AssertionError("no onStatus for publish")
    if b"NetStream.Publish.Start" not in pub.received:
        return pub.received
    meta = EcmaArray(
        duration=0.0, width=640.0, height=360.0, videodatarate=2500.0, framerate=30.0,
        videocodecid=7.0, audiodatarate=160.0, audiosamplerate=44100.0, audiosamplesize=16.0,
        stereo=False, audiocodecid=10.0, encoder="obs-output module (libobs version 30.0.2)",
        filesize=0.0,
    )  # fmt: skip
    pub.send(w.message(4, MSG_DATA_AMF0, stream_id, 0,
                       amf0_all("@setDataFrame", "onMetaData", meta), compress=False))
    start = time.monotonic()
    for ttype, ts, body in tags:
        if ttype not in (MSG_AUDIO, MSG_VIDEO):
            continue
        # Real time, as an encoder sends: never more than 0.2 s ahead of the clock.
        ahead = ts / 1000.0 - (time.monotonic() - start)
        if ahead > 0.2:
            time.sleep(ahead - 0.2)
        wire_ts = (ts + ts_offset) & 0xFFFFFFFF
        pub.send(w.message(6 if ttype == MSG_VIDEO else 7, ttype, stream_id, wire_ts, body,
                           compress=compress))
    pub.send(w.command(3, 0, "FCUnpublish", 6, None, key))
    pub.send(w.command(3, 0, "deleteStream", 7, None, stream_id))
    return pub.received
