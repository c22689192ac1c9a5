#!/usr/bin/env python3
"""bench/report.py -- the benchmark's one table, and Cascade's targets.

    report.py [--markdown] [RESULTS.json]      (default: build/bench/last.json)

Reads what bench/run wrote and prints one table: for each load cell
(object x connections) and server, the median over the runs of req/s (with
its spread), MB/s, p50/p99 latency and server CPU microseconds per request,
and the ratio against nginx in the last column; then rows for the
origin-fetch burst, stale-with-origin-down, peak and anonymous RSS and
memory per idle keep-alive connection. Below it, each of Cascade's targets
with pass, FAIL or why it was not measured.

Not here: measuring (bench/run). Numbers are only compared within one
results file: ratios are the point, absolute numbers depend on the machine.
"""

import json
import os
import statistics
import sys

OBJ_LABEL = {"mpd": "MPD", "seg170": "~170 KB seg", "seg1250": "~1.25 MB seg"}
CLIENT_BUSY = 0.90  # wrk's core this busy = client-bound: compare CPU/request


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    if len(xs) < 2 or not statistics.median(xs):
        return None
    return (max(xs) - min(xs)) / statistics.median(xs)


def cell_summary(cell):
    """Median of each metric over a cell's runs, or None when it has none."""
    runs = cell.get("runs") or []
    runs = [r for r in runs if not r.get("error")]
    if not runs:
        return None
    s = {k: med([r.get(k) for r in runs]) for k in
         ("rps", "mbps", "p50_ms", "p99_ms", "cpu_us", "client_busy", "server_busy")}
    s["spread"] = spread([r.get("rps") for r in runs])
    s["client_bound"] = (s["client_busy"] or 0) >= CLIENT_BUSY
    s["errors"] = sum((r.get("socket_errors") or 0) + (r.get("non2xx") or 0) for r in runs)
    s["n"] = len(runs)
    return s


def fmt_int(x):
    return "-" if x is None else "{:,.0f}".format(x)


def fmt_f(x, nd=1):
    return "-" if x is None else ("{:,.%df}" % nd).format(x)


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2fx" % (a / b)


def fmt_mib(kib):
    return "-" if kib is None else "%.1f MiB" % (kib / 1024.0)


def server_note(res, name):
    st = res["servers"].get(name, {})
    return st.get("status", "not run")


def rows(res):
    """Table rows: (test, server, result, mbps, p50, p99, cpu, vs_nginx)."""
    servers = res["meta"]["servers"]
    out = []
    cells = {}
    for c in res.get("cells", []):
        cells.setdefault((c["object"], c["conns"]), {})[c["server"]] = c
    objs = res["meta"]["objects"]
    for (obj, conns) in sorted(cells, key=lambda k: (list(OBJ_LABEL).index(k[0]), k[1])):
        by = cells[(obj, conns)]
        base = cell_summary(by["nginx"]) if "nginx" in by else None
        test = "%s, %d conns" % (OBJ_LABEL[obj], conns)
        if obj in objs:
            test = "%s (%s B), %d conns" % (OBJ_LABEL[obj], fmt_int(objs[obj]["size"]), conns)
        for name in servers:
            c = by.get(name)
            s = cell_summary(c) if c else None
            if s is None:
                why = (c or {}).get("error") or server_note(res, name)
                out.append((test, name, why, None, None, None, None, None))
            else:
                r = fmt_int(s["rps"])
                if s["spread"] is not None:
                    r += " ±%.0f%%" % (100 * s["spread"])
                if s["client_bound"]:
                    r += " c"
                if s["errors"]:
                    r += " E%d" % s["errors"]
                vs = "-"
                if base is not None:
                    vs = "%s; %s" % (fmt_ratio(s["rps"], base["rps"]), fmt_ratio(s["cpu_us"], base["cpu_us"]))
                out.append((test, name, r, fmt_f(s["mbps"]), fmt_f(s["p50_ms"], 2),
                            fmt_f(s["p99_ms"], 2), fmt_f(s["cpu_us"]), vs))
            test = ""

    burst = res.get("burst", {})
    if burst:
        test = "origin fetches / 100-req burst"
        for name in servers:
            b = burst.get(name)
            if not b or b.get("error"):
                out.append((test, name, (b or {}).get("error") or server_note(res, name),
                            None, None, None, None, None))
            else:
                out.append((test, name, "%d fetch%s" % (b["origin_fetches"], "" if b["origin_fetches"] == 1 else "es"),
                            "-", fmt_f(b.get("p50_ms"), 0), fmt_f(b.get("max_ms"), 0), "-",
                            "%d/%d ok" % (b["ok"], b["n"])))
            test = ""
    stale = res.get("stale", {})
    if stale:
        test = "stale served, origin down"
        for name in servers:
            s = stale.get(name)
            if not s or s.get("error"):
                out.append((test, name, (s or {}).get("error") or server_note(res, name),
                            None, None, None, None, None))
            else:
                out.append((test, name, "%d/%d stale 200" % (s["ok"], s["n"]), "-",
                            fmt_f(s.get("p50_ms"), 1), fmt_f(s.get("max_ms"), 1), "-", "-"))
            test = ""
    mem = res.get("memory", {})
    if mem:
        base = mem.get("nginx") or {}
        for key, label in (("hwm_kib", "peak RSS (VmHWM)"), ("anon_peak_kib", "anon RSS peak (RssAnon)")):
            test = label + " under load"
            for name in servers:
                m = mem.get(name)
                if not m or m.get(key) is None:
                    out.append((test, name, server_note(res, name), None, None, None, None, None))
                else:
                    r = fmt_mib(m[key])
                    if m.get("note"):
                        r += " (%s)" % m["note"]
                    vs = "-" if m.get("note") else fmt_ratio(m[key], base.get(key))
                    out.append((test, name, r, "-", "-", "-", "-", vs))
                test = ""
    idle = res.get("idle", {})
    if idle:
        base = idle.get("nginx") or {}
        test = "memory / idle keep-alive conn"
        for name in servers:
            i = idle.get(name)
            if not i or i.get("error") or i.get("per_conn_pss_bytes") is None:
                out.append((test, name, (i or {}).get("error") or server_note(res, name),
                            None, None, None, None, None))
            else:
                r = "%s B (%s open)" % (fmt_int(i["per_conn_pss_bytes"]), fmt_int(i["alive"]))
                if i.get("note"):
                    r += " " + i["note"]
                out.append((test, name, r, "-", "-", "-", "-",
                            fmt_ratio(i["per_conn_pss_bytes"], base.get("per_conn_pss_bytes"))))
            test = ""
    return out


HEAD = ("test", "server", "req/s (result)", "MB/s", "p50 ms", "p99 ms", "CPU µs/req", "vs nginx")


def render_text(res):
    m = res["meta"]
    lines = []
    lines.append("Cascade edge-cache benchmark -- %s -- %s" % (m["date"], m.get("mode", "")))
    lines.append("command: %s" % m["command"])
    lines.append("%d run(s) x %s s per cell, median; ±spread = (max-min)/median of req/s; "
                 "servers pinned to core %s, wrk -t1 and clients to core %s"
                 % (m["runs"], m["duration"], m["server_core"], m["client_core"]))
    for k in [k for k in OBJ_LABEL if k in m["objects"]]:
        o = m["objects"][k]
        lines.append("  %-13s %s (%s bytes)" % (OBJ_LABEL[k], o["path"], fmt_int(o["size"])))
    busy = load_note(m)
    if busy:
        lines.append(busy)
    table = [HEAD] + [tuple("" if v is None else str(v) for v in r) for r in rows(res)]
    # A long result (an error) runs over the later columns rather than widening them.
    w = [max(len(r[i]) for r in table if (i != 2 or r[3] != "")) for i in range(len(HEAD))]
    w[2] = min(w[2], 24)
    sep = "  "
    for i, r in enumerate(table):
        if r[3] == "" and i > 0:
            lines.append(sep.join([r[0].ljust(w[0]), r[1].ljust(w[1]), r[2]]).rstrip())
        else:
            cols = [r[0].ljust(w[0]), r[1].ljust(w[1]), r[2].rjust(w[2])]
            cols += [r[j].rjust(w[j]) for j in range(3, 7)] + [r[7]]
            lines.append(sep.join(cols).rstrip())
        if i == 0:
            lines.append(sep.join("-" * x for x in w))
    lines.append("")
    lines.append("c = wrk's core was >= %d%% busy (client-bound: compare CPU µs/req, not req/s); "
                 "E = socket errors or non-2xx; vs nginx = req/s ratio; CPU/req ratio "
                 "(burst: p50/max of the 100 requests; RSS and idle rows: ratio of the value)."
                 % int(CLIENT_BUSY * 100))
    lines.append("")
    lines.extend(render_targets(res))
    return "\n".join(lines)


def load_note(m):
    """A warning when other work was running on the machine."""
    try:
        start = float(m["loadavg_start"][0])
        end = float(m.get("loadavg_end", m["loadavg_start"])[0])
    except (KeyError, IndexError, ValueError):
        return ""
    if max(start, end) < 1.0:
        return ""
    return ("note: the machine was busy (1-min load average %.1f at start, %.1f at end, on %s cores "
            "shared with other work): req/s partly measures that contention; CPU µs/req is the "
            "steadier figure." % (start, end, m.get("ncpu", "2")))


def render_markdown(res):
    m = res["meta"]
    out = ["Measured %s with `%s` (%s, %d run(s) x %s s per cell)."
           % (m["date"], m["command"], m.get("mode", ""), m["runs"], m["duration"]), ""]
    busy = load_note(m)
    if busy:
        out += [busy, ""]
    out.append("| " + " | ".join(HEAD) + " |")
    out.append("|" + "---|" * len(HEAD))
    for r in rows(res):
        out.append("| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in r) + " |")
    out.append("")
    out.extend("    " + x if x else "" for x in render_targets(res))
    return "\n".join(out)


def _best_peer(by, exclude="cascade"):
    best = None
    for name, c in by.items():
        if name == exclude:
            continue
        s = cell_summary(c)
        if s and (best is None or s["rps"] > best[1]["rps"]):
            best = (name, s)
    return best


def render_targets(res):
    """Each target, judged on this run's numbers."""
    cells = {}
    for c in res.get("cells", []):
        cells.setdefault((c["object"], c["conns"]), {})[c["server"]] = c
    note = server_note(res, "cascade")
    out = ["Cascade targets (bench/README.md):"]

    def line(text, verdict):
        out.append("  %-62s %s" % (text, verdict))

    def speed(obj, factor, against_best, cpu_factor=None):
        verdicts = []
        for (o, conns), by in sorted(cells.items()):
            if o != obj:
                continue
            cas = cell_summary(by["cascade"]) if "cascade" in by else None
            peer = _best_peer(by) if against_best else (
                ("nginx", cell_summary(by["nginx"])) if "nginx" in by and cell_summary(by["nginx"]) else None)
            if cas is None:
                return "not measured: " + ((by.get("cascade") or {}).get("error") or note)
            if peer is None:
                return "not measured: no peer result"
            pname, p = peer
            if cas["client_bound"] or p["client_bound"]:
                # The client was the bottleneck: req/s says nothing, CPU/request does.
                ok = cas["cpu_us"] * factor <= p["cpu_us"]
                verdicts.append("%dc: CPU/req %.2fx %s (client-bound) %s" %
                                (conns, cas["cpu_us"] / p["cpu_us"], pname, "pass" if ok else "FAIL"))
            else:
                r = cas["rps"] / p["rps"]
                ok = r >= factor
                txt = "%dc: %.2fx %s" % (conns, r, pname)
                if cpu_factor is not None:
                    cr = cas["cpu_us"] / p["cpu_us"]
                    ok = ok and cr <= cpu_factor
                    txt += " at %.2fx CPU/req" % cr
                verdicts.append(txt + (" pass" if ok else " FAIL"))
        return "; ".join(verdicts) if verdicts else "not measured"

    line("MPD hits >= 1.2x nginx", speed("mpd", 1.2, False))
    line("~170 KB segment hits >= 1.2x the best peer", speed("seg170", 1.2, True))
    line("1.25 MB segment hits >= best peer at <= 0.9x its CPU/req", speed("seg1250", 1.0, True, 0.9))
    b = res.get("burst", {}).get("cascade")
    if b and not b.get("error"):
        line("exactly 1 origin fetch per 100-request burst",
             "%d fetch(es), %d/%d ok %s" % (b["origin_fetches"], b["ok"], b["n"],
                                            "pass" if b["origin_fetches"] == 1 and b["ok"] == b["n"] else "FAIL"))
    else:
        line("exactly 1 origin fetch per 100-request burst", "not measured: " + ((b or {}).get("error") or note))
    m = res.get("memory", {}).get("cascade")
    if m and m.get("anon_peak_kib") is not None and not m.get("note"):
        line("anonymous RSS <= 16 MiB under the bench", "%s %s" % (fmt_mib(m["anon_peak_kib"]),
                                                                    "pass" if m["anon_peak_kib"] <= 16 * 1024 else "FAIL"))
    else:
        line("anonymous RSS <= 16 MiB under the bench",
             "not measured: " + (("%s, %s" % (fmt_mib(m["anon_peak_kib"]), m["note"])) if m and m.get("note") else note))
    i = res.get("idle", {}).get("cascade")
    if i and i.get("per_conn_pss_bytes") is not None:
        v = "%s B/conn over %s idle conns" % (fmt_int(i["per_conn_pss_bytes"]), fmt_int(i["alive"]))
        v += " pass" if i["per_conn_pss_bytes"] <= 4096 else " FAIL"
        if i.get("note"):
            v += " " + i["note"]
        line("<= 4 KB per idle keep-alive connection", v)
    else:
        line("<= 4 KB per idle keep-alive connection", "not measured: " + ((i or {}).get("error") or note))
    return out


def main():
    args = sys.argv[1:]
    md = "--markdown" in args
    args = [a for a in args if a != "--markdown"]
    path = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "..", "build", "bench", "last.json")
    with open(path) as f:
        res = json.load(f)
    print(render_markdown(res) if md else render_text(res))


if __name__ == "__main__":
    main()
