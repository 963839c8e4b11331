"""A smoke run of ``manage.py bench`` (a few streams, about a second each) and the relay's delta batching.

The benchmark itself is not part of the suite: this checks that the whole stack runs end to end, that
the report is complete and that no chunk was lost or reordered. No figure is asserted against a timer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from proxy.client.events import Delta, Finish
from proxy.relay import StreamRecord

ROOT = Path(__file__).resolve().parents[3]


def test_bench_smoke_run_reports_everything_and_loses_nothing(tmp_path: Path) -> None:
    out, chart = tmp_path / "bench.json", tmp_path / "bench.svg"
    done = subprocess.run(
        [
            *(sys.executable, str(ROOT / "manage.py"), "bench", "--levels", "1,3"),
            *("--ttft-ms", "20", "--tokens-per-second", "200", "--max-tokens", "20", "--ramp-ms", "50"),
            *("--idle-sockets", "5", "--stop-streams", "2", "--stop-after", "3", "--timeout", "30"),
            *("--fanout", "1,3"),
            *("--json", str(out), "--chart", str(chart)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [level["streams"] for level in report["levels"]] == [1, 3]
    for level in report["levels"]:
        for path in ("direct", "proxy"):
            figures = level[path]
            assert figures["chunks"] > 0
            assert figures["lost"] == figures["wrong_content"] == figures["reordered"] == 0
            assert figures["errors"] == figures["unmatched_streams"] == figures["unverified_streams"] == 0
            assert figures["chunk_late_ms"]["p99"] is not None
        assert level["proxy"]["chunks"] == level["direct"]["chunks"]
        assert level["added"]["ttft_ms"]["p50"] is not None
        assert level["added"]["chunk_ms"]["p99"] is not None
        assert level["server_cpu_us_per_chunk"] >= 0
    assert report["stop"]["stopped"] == 2
    assert report["stop"]["upstream_end"] == {"client_disconnected": 2}
    assert report["stop"]["stop_to_closed_ms"]["max"] is not None
    assert report["idle"]["kb_per_idle_socket"] is not None
    assert [level["viewers"] for level in report["fanout"]] == [1, 3]
    for level in report["fanout"]:
        assert level["chunks"] > 0 and level["watch_refused"] == 0
        assert level["lost"] == level["duplicated"] == level["reordered"] == 0
        assert level["added_ms"]["p99"] is not None
    assert chart.read_text().startswith("<svg")
    assert "chunk+ p99" in done.stdout and "fan-out, 3 viewers" in done.stdout


def test_deltas_of_one_read_go_out_as_one_frame_each_with_its_index_and_time() -> None:
    relay = StreamRecord("s")
    frames = relay.frames(
        [Delta(choice=0, content="a"), Delta(choice=0, content="b"), Finish(choice=0, reason="stop")]
    )
    assert [f["type"] for f in frames] == ["chat.deltas", "chat.finish"]
    items = frames[0]["items"]
    assert [(i["i"], i["content"]) for i in items] == [(0, "a"), (1, "b")]
    assert all("t" in i and "type" not in i and "stream" not in i for i in items)
    single = relay.frames([Delta(choice=0, content="c")])
    assert single == [{**single[0], "type": "chat.delta", "stream": "s", "i": 2}]
    assert relay.output()[0]["content"] == "abc"
