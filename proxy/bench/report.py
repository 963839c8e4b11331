"""The benchmark's arithmetic and output: lateness against the emulator's schedule, the table, the chart.

A chunk's lateness is its arrival time minus the moment the emulator planned to send it
(``started_at + schedule_ms[line]``, both ``time.time()`` on this machine). The figure "added" is the
proxy path's percentile minus the direct path's. Time to first token runs from the client's send
(``chat.start`` or the HTTP request) to the first content, so it includes everything the server does
before it asks the upstream. The role chunk is line 0, so content chunk ``i`` is line ``i + 1``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

Getter = Callable[[dict[str, Any]], Any]


def pct(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of values, or None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)


def diff(a: float | None, b: float | None) -> float | None:
    """a - b, or None if either is missing."""
    return None if a is None or b is None else round(a - b, 2)


def path_figures(
    result: dict[str, Any],
    records: dict[str, dict[str, Any]],
    config: Any,
    reference: dict[int, list[str]] | None,
) -> dict[str, Any]:
    """Lateness, TTFT, throughput and integrity of one path's streams."""
    late: list[float] = []
    ttft: list[float] = []
    lost = reordered = wrong = errors = unmatched = unverified = 0
    first_sent, last_arrival, delivered = math.inf, 0.0, 0
    for stream in result["streams"]:
        chunks = stream["chunks"]
        errors += stream.get("error") is not None
        first_sent = min(first_sent, stream["sent"])
        delivered += len(chunks)
        want = (reference or {}).get(stream["k"])
        got = [c[2] for c in chunks]
        if want is None:
            unverified += reference is not None
        else:
            lost += max(0, len(want) - len(got))
            wrong += sum(1 for a, b in zip(got, want, strict=False) if a != b)
        reordered += sum(1 for position, c in enumerate(chunks) if c[1] != position)
        if not chunks:
            continue
        last_arrival = max(last_arrival, chunks[-1][0])
        ttft.append((chunks[0][0] - stream["sent"]) * 1000 - config.ttft_ms)
        emulated = records.get(stream.get("request_id") or "")
        if emulated is None:
            unmatched += 1
            continue
        schedule = emulated["schedule_ms"]
        for arrival, i, *_ in chunks:
            if i + 1 < len(schedule):
                late.append((arrival - emulated["started_at"] - schedule[i + 1] / 1000) * 1000)
    span = last_arrival - first_sent if delivered else 0.0
    return {
        "streams": len(result["streams"]),
        "chunks": delivered,
        "ttft_late_ms": {"p50": pct(ttft, 50), "p99": pct(ttft, 99)},
        "chunk_late_ms": {"p50": pct(late, 50), "p99": pct(late, 99), "max": pct(late, 100)},
        "chunks_per_second": round(delivered / span, 1) if span > 0 else None,
        "lost": lost,
        "wrong_content": wrong,
        "reordered": reordered,
        "errors": errors,
        "unmatched_streams": unmatched,
        "unverified_streams": unverified,
    }


def summarise_level(
    n: int, config: Any, direct: dict[str, Any], proxied: dict[str, Any], records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Both paths at one concurrency level, and what the proxy adds."""
    # The direct path is the reference text: same prompt and seed, same chunks.
    expected = {s["k"]: [c[2] for c in s["chunks"]] for s in direct["streams"] if s.get("error") is None}
    for stream in direct["streams"]:
        # The mapping "content chunk i is line i + 1" is checked on the path that sees the lines.
        if any(c[3] != c[1] + 1 for c in stream["chunks"]):
            raise RuntimeError("The emulator's chunk layout changed: content chunk i is not line i + 1.")
    d = path_figures(direct, records, config, None)
    p = path_figures(proxied, records, config, expected)
    chunks = p["chunks"] or 1
    return {
        "streams": n,
        "direct": d,
        "proxy": p,
        "added": {
            "ttft_ms": {k: diff(p["ttft_late_ms"][k], d["ttft_late_ms"][k]) for k in ("p50", "p99")},
            "chunk_ms": {k: diff(p["chunk_late_ms"][k], d["chunk_late_ms"][k]) for k in ("p50", "p99")},
        },
        "server_cpu_us_per_chunk": round(proxied["server_cpu_s"] / chunks * 1e6, 1),
        "server_kb_per_active_stream": round(
            (proxied["server_rss_peak_kb"] - proxied["server_rss_before_kb"]) / n, 1
        ),
        "frames_per_chunk": round(sum(s["frames"] for s in proxied["streams"]) / chunks, 3),
    }


def summarise_idle(idle: dict[str, Any]) -> dict[str, Any]:
    """Server memory per idle socket."""
    per = (idle["rss_after_kb"] - idle["rss_before_kb"]) / max(1, idle["sockets"])
    return {**idle, "kb_per_idle_socket": round(per, 1)}


def summarise_stop(stop: dict[str, Any], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """From ``chat.stop`` sent to the emulator seeing its connection closed."""
    delays: list[float] = []
    ends: dict[str, int] = {}
    for stream in stop["streams"]:
        emulated = records.get(stream.get("request_id") or "")
        if emulated is None or "stop_sent" not in stream:
            continue
        ends[str(emulated["end"])] = ends.get(str(emulated["end"]), 0) + 1
        if emulated["ended_at"] is not None:
            delays.append((emulated["ended_at"] - stream["stop_sent"]) * 1000)
    statuses = [s["status"] for s in stop["streams"]]
    return {
        "streams": len(stop["streams"]),
        "stopped": statuses.count("stopped"),
        "upstream_end": ends,
        "stop_to_closed_ms": {"p50": pct(delays, 50), "p99": pct(delays, 99), "max": pct(delays, 100)},
    }


def lost(level: dict[str, Any]) -> int:
    """Chunks lost or wrong on either path, failed streams, and streams that could not be checked."""
    total = 0
    for path in ("direct", "proxy"):
        f = level[path]
        total += (
            f["lost"] + f["wrong_content"] + f["errors"] + f["unverified_streams"] + f["unmatched_streams"]
        )
    return int(total)


def fmt(value: Any) -> str:
    """A table cell."""
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def level_line(level: dict[str, Any]) -> str:
    """One line of progress."""
    a = level["added"]
    return (
        f"{level['streams']} streams: ttft added p50 {fmt(a['ttft_ms']['p50'])} ms, chunk added p50/p99 "
        f"{fmt(a['chunk_ms']['p50'])}/{fmt(a['chunk_ms']['p99'])} ms, lost {lost(level)}"
    )


COLUMNS: list[tuple[str, Getter]] = [
    ("streams", lambda lv: lv["streams"]),
    ("TTFT+ p50", lambda lv: lv["added"]["ttft_ms"]["p50"]),
    ("TTFT+ p99", lambda lv: lv["added"]["ttft_ms"]["p99"]),
    ("chunk+ p50", lambda lv: lv["added"]["chunk_ms"]["p50"]),
    ("chunk+ p99", lambda lv: lv["added"]["chunk_ms"]["p99"]),
    ("direct late p99", lambda lv: lv["direct"]["chunk_late_ms"]["p99"]),
    ("proxy late p99", lambda lv: lv["proxy"]["chunk_late_ms"]["p99"]),
    ("chunks/s proxy", lambda lv: lv["proxy"]["chunks_per_second"]),
    ("chunks/s direct", lambda lv: lv["direct"]["chunks_per_second"]),
    ("CPU us/chunk", lambda lv: lv["server_cpu_us_per_chunk"]),
    ("frames/chunk", lambda lv: lv["frames_per_chunk"]),
    ("KB/active stream", lambda lv: lv["server_kb_per_active_stream"]),
    ("lost", lambda lv: lost(lv)),
    ("reordered", lambda lv: lv["proxy"]["reordered"]),
]


def table(report: dict[str, Any]) -> str:
    """The report as a plain-text table (milliseconds unless named) with the side measurements below."""
    rows = [[name for name, _ in COLUMNS]]
    rows += [[fmt(get(level)) for _, get in COLUMNS] for level in report["levels"]]
    widths = [max(len(r[c]) for r in rows) for c in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    stop, idle, machine = report["stop"], report["idle"], report["machine"]
    lines += [
        "",
        f"stop -> upstream closed: p50 {fmt(stop['stop_to_closed_ms']['p50'])} ms, "
        f"p99 {fmt(stop['stop_to_closed_ms']['p99'])} ms, max {fmt(stop['stop_to_closed_ms']['max'])} ms "
        f"({stop['stopped']}/{stop['streams']} stopped; upstream ends {stop['upstream_end']})",
        f"memory per idle socket: {fmt(idle['kb_per_idle_socket'])} KB ({idle['sockets']} sockets)",
        f"highest level with chunk added p99 <= 5 ms: {fmt(highest_within(report, 5.0))}",
        f"load average at start {machine['loadavg_start']}, at end {machine['loadavg_end']}, "
        f"{machine['cpus']} CPUs",
    ]
    lines += [fanout_line(level) for level in report["fanout"]] or ["fan-out: not run"]
    lines += [arena_line(level) for level in report.get("arena", [])]
    return "\n".join(lines)


def highest_within(report: dict[str, Any], limit_ms: float) -> int | None:
    """The highest level whose per-chunk latency added at p99 is within the limit, with nothing lost."""
    best = None
    for level in report["levels"]:
        p99 = level["added"]["chunk_ms"]["p99"]
        if p99 is not None and p99 <= limit_ms and lost(level) == 0:
            best = level["streams"]
    return best


def svg_chart(report: dict[str, Any]) -> str:
    """A small log-scale SVG line chart of the latency added per level, with the 5 ms target."""
    series: list[tuple[str, str, Getter]] = [
        ("TTFT added p50", "#1f77b4", lambda lv: lv["added"]["ttft_ms"]["p50"]),
        ("chunk added p50", "#2ca02c", lambda lv: lv["added"]["chunk_ms"]["p50"]),
        ("chunk added p99", "#d62728", lambda lv: lv["added"]["chunk_ms"]["p99"]),
    ]
    levels = report["levels"]
    w, h, left, top, bottom, right = 640, 360, 60, 30, 50, 170
    lo, hi = -1, 4  # 0.1 ms .. 10 s, log10

    def x(index: int) -> float:
        return left + (w - left - right) * (index + 0.5) / max(1, len(levels))

    def y(value: float) -> float:
        v = min(max(math.log10(max(value, 0.1)), lo), hi)
        return top + (h - top - bottom) * (hi - v) / (hi - lo)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{left}" y="18">Latency the proxy adds (ms, log scale) by concurrent streams</text>',
    ]
    for exp in range(lo, hi + 1):
        ty = y(10.0**exp)
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{10.0**exp:g}</text>')
    ty = y(5.0)
    out.append(
        f'<line x1="{left}" x2="{w - right}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#999" '
        'stroke-dasharray="4 3"/>'
    )
    out.append(f'<text x="{w - right + 4}" y="{ty + 4:.1f}" fill="#666">5 ms target</text>')
    for i, level in enumerate(levels):
        out.append(
            f'<text x="{x(i):.1f}" y="{h - bottom + 18}" text-anchor="middle">{level["streams"]}</text>'
        )
    for n, (name, colour, get) in enumerate(series):
        points = [(x(i), y(get(lv))) for i, lv in enumerate(levels) if get(lv) is not None]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in points]
        ly = top + 40 + 18 * n
        out.append(
            f'<line x1="{w - right + 4}" x2="{w - right + 24}" y1="{ly}" y2="{ly}" stroke="{colour}" '
            'stroke-width="2"/>'
        )
        out.append(f'<text x="{w - right + 28}" y="{ly + 4}">{name}</text>')
    out.append(
        f'<text x="{(left + w - right) / 2}" y="{h - 10}" text-anchor="middle">concurrent streams</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


# --- fan-out: one stream watched by N viewers (proxy/bench_fanout.py) ---------------------------------


def summarise_fanout(viewers: int, result: dict[str, Any]) -> dict[str, Any]:
    """Latency added per viewer (its arrival minus the owner's, same chunk, same clock), losses, CPU."""
    arrivals = {int(i): t for i, t in result["owner"]["arrivals"].items()}
    added: list[float] = []
    last_viewer: dict[int, float] = {}
    lost = duplicated = reordered = 0
    for view in result["viewers"]:
        indexes = [i for _, i in view["chunks"]]
        lost += len(set(arrivals) - set(indexes))
        duplicated += len(indexes) - len(set(indexes))
        reordered += sum(1 for a, b in itertools.pairwise(indexes) if b <= a)
        for t, i in view["chunks"]:
            if i in arrivals:
                delay = (t - arrivals[i]) * 1000
                added.append(delay)
                last_viewer[i] = max(last_viewer.get(i, delay), delay)
    last = list(last_viewer.values())
    deliveries = len(arrivals) * viewers
    return {
        "viewers": viewers,
        "chunks": len(arrivals),
        "added_ms": {"p50": pct(added, 50), "p99": pct(added, 99), "max": pct(added, 100)},
        "last_viewer_ms": {"p50": pct(last, 50), "p99": pct(last, 99)},
        "lost": lost,
        "duplicated": duplicated,
        "reordered": reordered,
        "watch_refused": sum(1 for v in result["viewers"] if not v["ok"]),
        # The server's CPU time during the stream (the owner's relay included) per chunk a viewer got.
        "server_cpu_us_per_viewer_chunk": (
            round(result["server_cpu_s"] * 1e6 / deliveries, 1) if deliveries else None
        ),
    }


def fanout_line(level: dict[str, Any]) -> str:
    """One line of the fan-out results."""
    a, last = level["added_ms"], level["last_viewer_ms"]
    return (
        f"fan-out, {level['viewers']} viewers: added per viewer p50 {fmt(a['p50'])} ms, "
        f"p99 {fmt(a['p99'])} ms, max {fmt(a['max'])} ms; last viewer p50/p99 {fmt(last['p50'])}/"
        f"{fmt(last['p99'])} ms; server CPU {fmt(level['server_cpu_us_per_viewer_chunk'])} us per "
        f"viewer-chunk; lost {level['lost']}, duplicated {level['duplicated']}, "
        f"reordered {level['reordered']}"
    )


# --- arena: one round of two streams, watched by N phones (proxy/bench/fanout.py, arena mode) -------------


def summarise_arena(viewers: int, result: dict[str, Any]) -> dict[str, Any]:
    """Latency each phone adds over the stage (same delta, same clock), the round's pace at the stage
    (time from the send to the first delta and to the last), losses and the server's CPU."""
    stage = {key: t for t, key, _ in result["stage"]["chunks"]}
    relayed = [server_t for _, _, server_t in result["stage"]["chunks"]]
    added: list[float] = []
    lost = duplicated = reordered = 0
    for view in result["viewers"]:
        keys = [key for _, key, _ in view["chunks"]]
        lost += len(set(stage) - set(keys))
        duplicated += len(keys) - len(set(keys))
        per_stream: dict[str, int] = {}
        for key in keys:
            stream, i = key.rsplit("/", 1)
            if int(i) <= per_stream.get(stream, -1):
                reordered += 1
            per_stream[stream] = int(i)
        added += [(t - stage[key]) * 1000 for t, key, _ in view["chunks"] if key in stage]
    times = sorted(stage.values())
    deliveries = len(stage) * viewers
    return {
        "viewers": viewers,
        "chunks": len(stage),
        "added_ms": {"p50": pct(added, 50), "p99": pct(added, 99), "max": pct(added, 100)},
        "stage_first_ms": round((times[0] - result["sent"]) * 1000, 1) if times else None,
        "stage_last_ms": round((times[-1] - result["sent"]) * 1000, 1) if times else None,
        # When the server's relay made the last delta (its t): the stream's own pace on the server.
        "relay_last_t_ms": round(max(relayed), 1) if relayed else None,
        "lost": lost,
        "duplicated": duplicated,
        "reordered": reordered,
        "join_refused": sum(1 for v in result["viewers"] if not v["ok"]),
        "server_cpu_us_per_viewer_chunk": (
            round(result["server_cpu_s"] * 1e6 / deliveries, 1) if deliveries else None
        ),
    }


def arena_line(level: dict[str, Any]) -> str:
    """One line of the arena results."""
    a = level["added_ms"]
    return (
        f"arena, {level['viewers']} phones: added per phone over the stage p50 {fmt(a['p50'])} ms, "
        f"p99 {fmt(a['p99'])} ms, max {fmt(a['max'])} ms; stage first/last delta "
        f"{fmt(level['stage_first_ms'])}/{fmt(level['stage_last_ms'])} ms after the send "
        f"({level['chunks']} chunks of 2 streams; relayed by {fmt(level['relay_last_t_ms'])} ms); server CPU "
        f"{fmt(level['server_cpu_us_per_viewer_chunk'])} us per phone-chunk; lost {level['lost']}, "
        f"duplicated {level['duplicated']}, reordered {level['reordered']}, refused {level['join_refused']}"
    )
