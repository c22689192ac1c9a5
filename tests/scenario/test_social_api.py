"""
test_social_api.py -- the origin's interactions API end to end, on both
metadata backends: sessions and tokens, comments with threaded replies and
cursor pages (also while others write), soft delete, likes, reactions in
media time, edge batches, the event log, and bad input of every kind
(wrong types, oversize, unknown ids, missing or forged tokens, SQL and JSON
injection attempts) answered with a 4xx and a code while the origin keeps
running.

The postgres runs start Debian's server in a temp dir on a free port
(tests/pg_tmp.sh). When the server binaries are missing those runs FAIL:
the unit suite (test_meta.c) may skip postgres, this test may not.
"""

import json
import shutil
import subprocess
import tempfile
import threading

import pytest

import cdn as cdnlib
import social_lib

SECRET = "scenario-token-secret-0123456789"
MOD_KEY = "scenario-moderator-key-0123"
EDGE_KEY = "scenario-edge-key-0123456789"
PG_SCRIPT = cdnlib.SOURCE_DIR / "tests" / "pg_tmp.sh"


# ---------------------------------------------------------------- fixtures


class Postgres:
    """A throwaway PostgreSQL server (tests/pg_tmp.sh), stopped and removed by close()."""

    def __init__(self):
        # Directly under /tmp: the server runs as the postgres user, which
        # cannot reach pytest's per-user tmp_path.
        self.dir = tempfile.mkdtemp(prefix="cascade-pg-", dir="/tmp")
        r = subprocess.run(
            ["sh", str(PG_SCRIPT), "start", self.dir, str(cdnlib.free_port())],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if r.returncode == 77:
            shutil.rmtree(self.dir, ignore_errors=True)
            pytest.fail(
                "PostgreSQL server binaries are missing (apt-get install postgresql): "
                "the postgres backend cannot be proven",
                pytrace=False,
            )
        if r.returncode != 0:
            self.close()
            pytest.fail(f"pg_tmp.sh start failed: {r.stderr}", pytrace=False)
        self.conninfo = r.stdout.strip()

    def close(self):
        subprocess.run(["sh", str(PG_SCRIPT), "stop", self.dir], timeout=60, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(params=["lmdb", "postgres"])
def backend(request):
    """The metadata backend's config keys (and its server, for postgres)."""
    if request.param == "lmdb":
        yield {"meta.backend": "lmdb"}
        return
    pg = Postgres()
    try:
        yield {"meta.backend": "postgres", "meta.postgres": pg.conninfo}
    finally:
        pg.close()


def social_conf(backend, **more):
    conf = dict(backend)
    conf.update(
        {
            "social.token_secret": SECRET,
            "social.moderator_key": MOD_KEY,
            "social.edge_key": EDGE_KEY,
            "social.reactions": "like,love,fire",
            "social.reaction_bucket": "1s",
        }
    )
    conf.update(more)
    return conf


class Api(social_lib.Api):
    """social_lib.Api, with the origin's sessions (moderator keys, whole answers)."""

    def session(self, name="viewer", **keys):
        body = {"name": name}
        body.update(keys)
        return self.ok("POST", "/api/sessions", body, want=201)

    def err(self, r, status, code=None):
        """r failed with status and a machine-readable code."""
        assert r.status == status, f"wanted {status}, got {r.status} {r.text}"
        j = r.json()
        assert set(j) == {"error"}
        assert isinstance(j["error"]["code"], str) and j["error"]["code"]
        assert isinstance(j["error"]["message"], str)
        if code is not None:
            assert j["error"]["code"] == code, r.text
        return j["error"]


def start_origin(cdn, backend, **more):
    origin = cdn.origin(conf=social_conf(backend, **more))
    api = Api(origin)
    r = api.call("POST", "/api/sessions", {"name": "probe"})
    if r.status == 404 and b"not_found" in r.body:
        pytest.fail(
            "cascade-origin does not route /api/sessions: origin_api_social_handle() is not "
            "wired into origin_main.c (see docs/social.md)",
            pytrace=False,
        )
    return origin, api


# ---------------------------------------------------------------- sessions


def test_sessions_issue_tokens_and_refuse_bad_bodies(cdn, backend):
    origin, api = start_origin(cdn, backend)

    s = api.session("Ann \u00e9\U0001f3ac")
    mod = api.session("Mo", moderator_key=MOD_KEY)
    edge = api.session("edge-1", edge_key=EDGE_KEY)

    assert s["user"]["name"] == "Ann \u00e9\U0001f3ac" and s["user"]["role"] == "user"
    assert len(s["user"]["id"]) == 16 and s["token"].startswith("v1.")
    assert mod["user"]["role"] == "moderator" and edge["user"]["role"] == "edge"
    wrong = {"name": "x", "moderator_key": "wrong-key-0000000"}
    api.err(api.call("POST", "/api/sessions", wrong), 403, "bad_key")
    both = {"name": "x", "moderator_key": MOD_KEY, "edge_key": EDGE_KEY}
    api.err(api.call("POST", "/api/sessions", both), 400)
    for body, code in [
        ({}, "missing_field"),
        ({"name": 5}, "wrong_type"),
        ({"name": ["a"]}, "wrong_type"),
        ({"name": ""}, "bad_value"),
        ({"name": "x" * 65}, "too_long"),
        ({"name": "a\u0000b"}, "bad_json"),
        ({"name": "line\nbreak"}, "bad_value"),
    ]:
        api.err(api.call("POST", "/api/sessions", body), 400, code)
    api.err(api.call("POST", "/api/sessions", raw=b'{"name":'), 400, "bad_json")
    api.err(api.call("POST", "/api/sessions", raw=b'{"name":"a","name":"b"}'), 400, "bad_json")
    api.err(api.call("POST", "/api/sessions", raw=b"[1,2]"), 400, "bad_json")
    text = {"Content-Type": "text/plain"}
    r = api.call("POST", "/api/sessions", raw=b'{"name":"a"}', headers=text)
    api.err(r, 415, "unsupported_media_type")
    huge = b'{"name":"' + b"a" * 20000 + b'"}'
    api.err(api.call("POST", "/api/sessions", raw=huge), 413, "too_large")
    r = api.call("GET", "/api/sessions")
    api.err(r, 405, "method_not_allowed")
    assert r.header("Allow") == "POST"


def test_writes_need_a_valid_token(cdn, backend):
    origin, api = start_origin(cdn, backend)
    tok = api.session()["token"]
    forged = tok[:-3] + ("AAA" if not tok.endswith("AAA") else "BBB")

    for method, path, body in [
        ("POST", "/api/videos/v1/comments", {"text": "hi"}),
        ("DELETE", "/api/videos/v1/comments/1", None),
        ("PUT", "/api/videos/v1/like", None),
        ("DELETE", "/api/videos/v1/like", None),
        ("POST", "/api/streams/s1/reactions", {"kind": "like", "t": 0}),
        ("POST", "/api/reactions/batch", [{"stream": "s1", "kind": "like", "window_start": 0}]),
    ]:
        r = api.call(method, path, body)
        api.err(r, 401, "unauthorized")
        assert r.header("WWW-Authenticate", "").startswith("Bearer")
        api.err(api.call(method, path, body, token=forged), 401, "unauthorized")
        api.err(api.call(method, path, body, token="v1.' OR 1=1 --"), 401, "unauthorized")
        api.err(api.call(method, path, body, headers={"Authorization": "Basic YTpi"}), 401)

    # A token from an origin with another secret is refused too.
    other = {"social.token_secret": "another-secret-0123456789"}
    stranger = cdn.origin(conf=social_conf(backend, **other))
    foreign = Api(stranger).session()["token"]
    api.err(api.call("POST", "/api/videos/v1/comments", {"text": "hi"}, token=foreign), 401)


# ---------------------------------------------------------------- comments


def test_comments_threads_pages_and_soft_delete(cdn, backend):
    origin, api = start_origin(cdn, backend)
    ann, bob = api.session("Ann")["token"], api.session("Bob")["token"]
    mod = api.session("Mo", moderator_key=MOD_KEY)["token"]
    base = "/api/videos/film/comments"

    ids = [api.ok("POST", base, {"text": f"c{i}"}, ann, want=201)["id"] for i in range(7)]
    reply = api.ok("POST", base, {"text": "a reply", "parent": ids[0]}, bob, want=201)
    deeper = api.ok("POST", base, {"text": "deeper", "parent": reply["id"]}, ann, want=201)

    assert reply["parent"] == ids[0] and reply["depth"] == 1 and deeper["depth"] == 2
    assert reply["author"]["name"] == "Bob"
    # Newest first in pages of 3, then oldest first: each comment once, replies apart.
    seen, cursor = [], ""
    while True:
        page = api.ok("GET", f"{base}?limit=3&cursor={cursor}")
        seen += [c["id"] for c in page["comments"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    oldest = api.ok("GET", f"{base}?order=oldest&limit=100")
    assert [c["id"] for c in oldest["comments"]] == ids and oldest["next_cursor"] is None
    assert oldest["comments"][0]["replies"] == 1
    replies = api.ok("GET", f"{base}/{ids[0]}/replies")
    assert [c["id"] for c in replies["comments"]] == [reply["id"]]
    assert api.ok("GET", f"{base}/{reply['id']}")["text"] == "a reply"
    # Another target of the same name is another thread.
    assert api.ok("GET", "/api/streams/film/comments")["comments"] == []
    api.err(api.call("GET", f"/api/streams/film/comments/{ids[0]}"), 404, "comment_not_found")

    # Soft delete: not by others; by the author (twice is fine); by a moderator.
    api.err(api.call("DELETE", f"{base}/{ids[0]}", token=bob), 403, "forbidden")
    gone = api.ok("DELETE", f"{base}/{ids[0]}", token=ann)
    assert gone["deleted"] and gone["text"] == ""
    api.ok("DELETE", f"{base}/{ids[0]}", token=ann)
    assert api.ok("DELETE", f"{base}/{reply['id']}", token=mod)["deleted"]
    # The thread keeps its shape: the deleted comment still lists, and takes replies.
    listed = api.ok("GET", f"{base}?order=oldest")["comments"][0]
    assert listed["id"] == ids[0] and listed["deleted"] and listed["replies"] == 1
    api.ok("POST", base, {"text": "still here", "parent": ids[0]}, bob, want=201)


def test_comments_refuse_bad_input(cdn, backend):
    origin, api = start_origin(cdn, backend)
    tok = api.session()["token"]
    base = "/api/videos/v/comments"
    first = api.ok("POST", base, {"text": "x"}, tok, want=201)

    for body, code in [
        ({}, "missing_field"),
        ({"text": 12}, "wrong_type"),
        ({"text": None}, "wrong_type"),
        ({"text": {"$gt": ""}}, "wrong_type"),
        ({"text": ""}, "bad_value"),
        ({"text": "x" * 2001}, "too_long"),
        ({"text": "bell\u0007"}, "bad_value"),
        ({"text": "x", "parent": 1.5}, "wrong_type"),
        ({"text": "x", "parent": "0"}, "bad_value"),
        ({"text": "x", "parent": "1; DROP TABLE comments"}, "bad_value"),
    ]:
        api.err(api.call("POST", base, body, tok), 400, code)
    nowhere = {"text": "x", "parent": "999999999"}
    api.err(api.call("POST", base, nowhere, tok), 404, "parent_not_found")
    elsewhere = {"text": "x", "parent": first["id"]}  # a parent on another target
    api.err(api.call("POST", "/api/streams/v/comments", elsewhere, tok), 404)
    api.err(api.call("GET", f"{base}/999999999"), 404, "comment_not_found")
    api.err(api.call("GET", f"{base}/999999999/replies"), 404, "comment_not_found")
    api.err(api.call("DELETE", f"{base}/999999999", token=tok), 404)
    for cid in ["abc", "0", "-1", "1e3", "99999999999999999999"]:
        api.err(api.call("GET", f"{base}/{cid}"), 400, "bad_id")
    for path in ["/api/videos/a%2Fb/comments", "/api/videos/..%2F..%2Fetc/comments",
                 "/api/videos/x'%20OR%20'1'='1/comments", "/api/videos/" + "v" * 65 + "/comments"]:
        api.err(api.call("GET", path), 400, "bad_id")
    for q in ["limit=0", "limit=101", "limit=x", "order=sideways", "cursor=-1", "cursor=1%27--",
              "limit=1&limit=2"]:
        api.err(api.call("GET", f"{base}?{q}"), 400, "bad_query")
    # Injection-looking text is stored and returned as it was sent.
    text = "'); DROP TABLE comments; -- \"},{\"admin\":true} <script>alert(1)</script>"
    c = api.ok("POST", base, {"text": text}, tok, want=201)
    assert api.ok("GET", f"{base}/{c['id']}")["text"] == text
    assert api.ok("GET", f"{base}?limit=1")["comments"][0]["text"] == text
    assert origin.get("/healthz").status == 200


def test_comment_pages_are_stable_while_others_write(cdn, backend):
    origin, api = start_origin(cdn, backend)
    tok = api.session()["token"]
    base = "/api/streams/busy/comments"
    before = [api.ok("POST", base, {"text": f"b{i}"}, tok, want=201)["id"] for i in range(30)]
    errors = []

    def writer(n):
        try:
            for i in range(n):
                api.ok("POST", base, {"text": f"w{i}"}, tok, want=201)
        except AssertionError as e:  # reported after the join
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(15,)) for _ in range(3)]
    for t in threads:
        t.start()
    seen, cursor = [], ""
    while True:
        page = api.ok("GET", f"{base}?limit=4&cursor={cursor}")
        seen += [int(c["id"]) for c in page["comments"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    for t in threads:
        t.join()

    assert not errors, errors
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert set(map(int, before)) <= set(seen)
    # Oldest first afterwards: every comment exactly once.
    everything, cursor = [], ""
    while True:
        page = api.ok("GET", f"{base}?order=oldest&limit=7&cursor={cursor}")
        everything += [int(c["id"]) for c in page["comments"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert everything == sorted(everything) and len(everything) == 30 + 45


# ---------------------------------------------------------------- likes


def test_likes_are_one_per_user_and_idempotent(cdn, backend):
    origin, api = start_origin(cdn, backend)
    a, b = api.session("A")["token"], api.session("B")["token"]

    assert api.ok("GET", "/api/videos/clip/likes") == {"count": 0, "liked": False}
    assert api.ok("PUT", "/api/videos/clip/like", token=a) == {"count": 1, "liked": True}
    assert api.ok("PUT", "/api/videos/clip/like", token=a) == {"count": 1, "liked": True}
    assert api.ok("PUT", "/api/videos/clip/like", token=b) == {"count": 2, "liked": True}
    assert api.ok("GET", "/api/videos/clip/likes", token=a) == {"count": 2, "liked": True}
    assert api.ok("DELETE", "/api/videos/clip/like", token=a) == {"count": 1, "liked": False}
    assert api.ok("DELETE", "/api/videos/clip/like", token=a) == {"count": 1, "liked": False}
    assert api.ok("GET", "/api/videos/clip/likes", token=a) == {"count": 1, "liked": False}
    assert api.ok("GET", "/api/videos/clip/likes") == {"count": 1, "liked": False}
    api.err(api.call("POST", "/api/videos/clip/like", token=a), 405)
    # Likes are for videos only: the streams API owns the rest of /api/streams/.
    assert api.call("PUT", "/api/streams/clip/like", token=a).status in (404, 405)


# ---------------------------------------------------------------- reactions


def test_reactions_count_in_media_time_buckets(cdn, backend):
    origin, api = start_origin(cdn, backend)
    tok = api.session()["token"]
    path = "/api/videos/match/reactions"

    for kind, t in [("like", 0), ("like", 999), ("fire", 500), ("like", 1000), ("love", 61500)]:
        r = api.ok("POST", path, {"kind": kind, "t": t}, tok, want=202)
        assert r["bucket_ms"] == t - t % 1000

    got = api.ok("GET", f"{path}?from=0&to=120000")
    assert got["bucket_ms"] == 1000
    assert got["buckets"] == [
        {"t": 0, "counts": {"fire": 1, "like": 2}},
        {"t": 1000, "counts": {"like": 1}},
        {"t": 61000, "counts": {"love": 1}},
    ]
    assert got["totals"] == {"like": 3, "fire": 1, "love": 1}
    # A replay asks for a window: only the buckets inside [from, to).
    assert [b["t"] for b in api.ok("GET", f"{path}?from=1000&to=61000")["buckets"]] == [1000]
    inside = api.ok("GET", f"{path}?from=1500&to=1600")["buckets"]
    assert inside == [{"t": 1000, "counts": {"like": 1}}]
    for body, code in [
        ({"kind": "boo", "t": 0}, "unknown_kind"),
        ({"kind": "like"}, "missing_field"),
        ({"kind": "like", "t": -1}, "bad_value"),
        ({"kind": "like", "t": 1.5}, "wrong_type"),
        ({"kind": "like", "t": "10"}, "wrong_type"),
        ({"kind": ["like"], "t": 0}, "wrong_type"),
    ]:
        api.err(api.call("POST", path, body, tok), 400, code)
    api.err(api.call("GET", f"{path}?from=0&to=99999999"), 400, "range_too_large")
    api.err(api.call("GET", f"{path}?from=10&to=5"), 400, "bad_query")


def test_edge_batches_merge_once(cdn, backend):
    origin, api = start_origin(cdn, backend)
    user = api.session()["token"]
    edge = api.session("edge-1", edge_key=EDGE_KEY)["token"]
    deltas = [
        {"stream": "live", "kind": "like", "window_start": 250, "count": 40},
        {"stream": "live", "kind": "like", "window_start": 750, "count": 2},
        {"stream": "live", "kind": "fire", "window_start": 1250, "count": 5},
    ]

    api.err(api.call("POST", "/api/reactions/batch", deltas, user), 403, "forbidden")
    assert api.ok("POST", "/api/reactions/batch", deltas, edge)["reactions"] == 47
    batch = {"edge": "edge-1", "seq": 1, "deltas": deltas[:1]}
    assert api.ok("POST", "/api/reactions/batch", batch, edge)["duplicate"] is False
    assert api.ok("POST", "/api/reactions/batch", batch, edge)["duplicate"] is True  # a retry
    batch["seq"] = 2
    assert api.ok("POST", "/api/reactions/batch", batch, edge)["duplicate"] is False

    got = api.ok("GET", "/api/streams/live/reactions?from=0&to=2000")
    assert got["buckets"] == [{"t": 0, "counts": {"like": 122}}, {"t": 1000, "counts": {"fire": 5}}]
    for body, code in [
        ([], "bad_value"),
        ({"deltas": "x"}, "wrong_type"),
        ([{"stream": "live", "kind": "like", "window_start": 0, "count": 0}], "bad_value"),
        ([{"stream": "live", "kind": "like", "window_start": 0, "count": 10**7}], "bad_value"),
        ([{"stream": "li/ve", "kind": "like", "window_start": 0, "count": 1}], "bad_id"),
        ([{"stream": "live", "kind": "nope", "window_start": 0, "count": 1}], "unknown_kind"),
        ([{"stream": "live", "kind": "like", "window_start": 0, "count": 1}] * 1025, "bad_value"),
    ]:
        api.err(api.call("POST", "/api/reactions/batch", body, edge), 400, code)
    # A failed batch applied nothing.
    after = api.ok("GET", "/api/streams/live/reactions?from=0&to=2000")
    assert after["totals"] == {"like": 122, "fire": 5}


# ---------------------------------------------------------------- events


def test_event_log_feeds_an_edge(cdn, backend):
    origin, api = start_origin(cdn, backend)
    tok = api.session()["token"]
    start = api.ok("GET", "/api/events")
    assert start["events"] == []

    c = api.ok("POST", "/api/streams/s/comments", {"text": "hello"}, tok, want=201)
    api.ok("PUT", "/api/videos/v/like", token=tok)
    api.ok("POST", "/api/streams/s/reactions", {"kind": "fire", "t": 2500}, tok, want=202)

    got = api.ok("GET", f"/api/events?after={start['last']}")
    assert [e["type"] for e in got["events"]] == ["comment", "likes", "reactions"]
    assert got["events"][0]["comment"]["id"] == c["id"]
    assert got["events"][0]["target"] == {"kind": "stream", "id": "s"}
    assert got["events"][1]["count"] == 1
    assert got["events"][2]["bucket_ms"] == 2000 and got["events"][2]["count"] == 1
    assert got["last"] == got["events"][-1]["id"] and got["reset"] is False

    # A long poll answers as soon as something happens.
    result = {}

    def poll():
        result["r"] = api.ok("GET", f"/api/events?after={got['last']}&wait=10000")

    t = threading.Thread(target=poll)
    t.start()
    # Posted before or during the poll, the comment is what it answers with.
    api.ok("POST", "/api/streams/s/comments", {"text": "wake up"}, tok, want=201)
    t.join(15)
    assert not t.is_alive()
    assert [e["type"] for e in result["r"]["events"]] == ["comment"]
    assert result["r"]["events"][0]["comment"]["text"] == "wake up"


def test_origins_share_one_postgres_database(cdn, backend):
    if backend["meta.backend"] != "postgres":
        pytest.skip("several origins share data through the postgres backend only")
    a, api_a = start_origin(cdn, backend)
    b, api_b = start_origin(cdn, backend)
    tok = api_a.session("Ann")["token"]

    c = api_a.ok("POST", "/api/videos/shared/comments", {"text": "from a"}, tok, want=201)
    reply = {"text": "via b", "parent": c["id"]}
    r = api_b.ok("POST", "/api/videos/shared/comments", reply, tok, want=201)
    api_b.ok("PUT", "/api/videos/shared/like", token=tok)

    assert r["author"]["name"] == "Ann"  # b knows a's user and accepts a's token
    replies = api_a.ok("GET", f"/api/videos/shared/comments/{c['id']}/replies")["comments"]
    assert [x["id"] for x in replies] == [r["id"]]
    assert api_a.ok("GET", "/api/videos/shared/likes", token=tok) == {"count": 1, "liked": True}


# ---------------------------------------------------------------- robustness


def test_clients_that_vanish_mid_request_cost_nothing(cdn, backend):
    origin, api = start_origin(cdn, backend)
    tok = api.session()["token"]
    body = json.dumps({"text": "never finished"}).encode()

    # Long polls dropped while held, bodies cut short, requests dropped while queued.
    for i in range(30):
        c = cdnlib.RawConn(origin.addr)
        if i % 3 == 0:
            c.send(cdnlib.build_request("GET", "/api/events?after=0&wait=5000"))
        elif i % 3 == 1:
            hdrs = {
                "Authorization": f"Bearer {tok}",
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
            }
            head = cdnlib.build_request("POST", "/api/videos/v/comments", hdrs)
            c.send(head + body[:5])
        else:
            c.send(cdnlib.build_request("GET", "/api/videos/v/comments?limit=100"))
        c.close()

    # Still serving, and nothing half-made was stored.
    assert api.ok("GET", "/api/videos/v/comments")["comments"] == []
    api.ok("POST", "/api/videos/v/comments", {"text": "after"}, tok, want=201)

    # A long poll held during SIGTERM is answered, then the origin exits cleanly.
    last = api.ok("GET", "/api/events")["last"]
    held = cdnlib.RawConn(origin.addr, timeout=15)
    held.send(cdnlib.build_request("GET", f"/api/events?after={last}&wait=2000"))
    cdnlib.wait_for(lambda: origin.metric("origin.social.inflight") == 1, timeout=5)
    origin.terminate()
    r = held.response()
    held.close()
    assert r.status == 200 and r.json()["events"] == []
    assert origin.wait_exit() == 0
