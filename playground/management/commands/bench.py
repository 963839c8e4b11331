"""``manage.py bench``: what the proxy adds per token, beside a direct client (README, "Benchmark")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from proxy.bench.backends import DEFAULT_POSTGRESQL, DEFAULT_REDIS


def levels(text: str) -> list[int]:
    """A comma-separated list of positive stream counts."""
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise ValueError(text)
    return values


def counts(text: str) -> list[int]:
    """A comma-separated list of counts, 0 allowed (the arena's baseline: the stage alone)."""
    values = [int(v) for v in text.split(",") if v.strip()]
    if min(values, default=0) < 0:
        raise ValueError(text)
    return values


class Command(BaseCommand):
    """Start the emulator, the server and a client process; drive N concurrent streams both ways."""

    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--levels", type=levels, default=[1, 10, 100, 500], help="e.g. 1,10,100,500")
        parser.add_argument("--ttft-ms", type=float, default=200.0, help="Emulator time to first token.")
        parser.add_argument("--tokens-per-second", type=float, default=50.0, help="Emulator pace.")
        parser.add_argument("--chunk-tokens", type=int, default=1, help="Tokens per chunk.")
        parser.add_argument("--max-tokens", type=int, default=150, help="Chunks per stream (1 token each).")
        parser.add_argument("--ramp-ms", type=float, default=1000.0, help="Spread the starts over this.")
        parser.add_argument("--idle-sockets", type=int, default=200, help="Sockets for the idle memory test.")
        parser.add_argument("--stop-streams", type=int, default=20, help="Streams for the stop test.")
        parser.add_argument("--stop-after", type=int, default=5, help="Chunks before the stop test stops.")
        parser.add_argument("--timeout", type=float, default=120.0, help="Limit per client job (seconds).")
        parser.add_argument(
            "--py-spy", default=None, help="Profile the server in the last level to this file."
        )
        parser.add_argument("--raw-dir", default=None, help="Also keep the raw arrival times here.")
        parser.add_argument(
            "--fanout",
            type=lambda text: levels(text) if text.strip() else [],
            default=[1, 50, 200],
            help="Viewers watching one stream live, per fan-out level, e.g. 1,50,200 ('' to skip).",
        )
        parser.add_argument(
            "--arena",
            type=counts,
            default=[],
            help="Arena mode: audience phones watching one round of two configurations, per level, "
            "e.g. 0,200 (default: not run).",
        )
        parser.add_argument(
            "--workers",
            type=levels,
            default=[1],
            help="Server processes, one run each, e.g. 1,2 (more than 1: `serve --workers N` on a "
            "throwaway PostgreSQL database and Redis prefix).",
        )
        parser.add_argument(
            "--database-url",
            default=DEFAULT_POSTGRESQL,
            help=f"The PostgreSQL server for runs with several workers (default {DEFAULT_POSTGRESQL}).",
        )
        parser.add_argument(
            "--redis-url", default=DEFAULT_REDIS, help=f"Redis for those runs (default {DEFAULT_REDIS})."
        )
        parser.add_argument("--json", default="bench-results.json", help="Where to write the report.")
        parser.add_argument("--chart", default="bench-chart.svg", help="Where to write the SVG chart.")

    def handle(self, *args: Any, **options: Any) -> None:
        from proxy.bench import report as bench_report
        from proxy.bench import runner as bench
        from proxy.bench.backends import BackendUnavailable

        reports = []
        for workers in options["workers"]:
            config = bench.BenchConfig(
                levels=options["levels"],
                ttft_ms=options["ttft_ms"],
                tokens_per_second=options["tokens_per_second"],
                chunk_tokens=options["chunk_tokens"],
                max_tokens=options["max_tokens"],
                ramp_ms=options["ramp_ms"],
                idle_sockets=options["idle_sockets"],
                stop_streams=options["stop_streams"],
                stop_after=options["stop_after"],
                timeout=options["timeout"],
                py_spy=options["py_spy"],
                raw_dir=options["raw_dir"],
                fanout=options["fanout"],
                arena=options["arena"],
                workers=workers,
                database_url=options["database_url"],
                redis_url=options["redis_url"],
            )
            if len(options["workers"]) > 1:
                self.stdout.write(f"--- {workers} server process{'es' if workers > 1 else ''}")
            try:
                reports.append(bench.run(config, log=lambda line: self.stdout.write(line)))
            except (RuntimeError, BackendUnavailable) as exc:
                raise CommandError(str(exc)) from None
        # One run: its report as before; several: a list of them, and a chart each.
        document = reports[0] if len(reports) == 1 else reports
        Path(options["json"]).write_text(json.dumps(document, indent=2))
        charts = []
        for report in reports:
            chart = Path(options["chart"])
            if len(reports) > 1:
                chart = chart.with_name(f"{chart.stem}-workers{report['workers']}{chart.suffix}")
            chart.write_text(bench_report.svg_chart(report))
            charts.append(str(chart))
        for report in reports:
            if len(reports) > 1:
                self.stdout.write(f"\n{report['workers']} server process(es), {report['backends']}:")
            self.stdout.write(bench_report.table(report))
        self.stdout.write(f"report: {options['json']}, chart: {', '.join(charts)}")
