"""``manage.py emulator``: serve the offline Fireworks emulator with uvicorn."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

DEFAULT_PORT = 8765


class Command(BaseCommand):
    """Serve the offline Fireworks emulator (``proxy.emulator.app``) on loopback."""

    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        from proxy.emulator.app import EmulatorConfig

        defaults = EmulatorConfig()
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"Port (default {DEFAULT_PORT}).")
        parser.add_argument(
            "--ttft-ms",
            type=float,
            default=defaults.ttft_ms,
            help=f"Time to first token in milliseconds (default {defaults.ttft_ms:g}).",
        )
        parser.add_argument(
            "--tokens-per-second",
            type=float,
            default=defaults.tokens_per_second,
            help=f"Generation speed (default {defaults.tokens_per_second:g}).",
        )
        parser.add_argument(
            "--chunk-tokens",
            type=int,
            default=defaults.chunk_tokens,
            help=f"Tokens per streamed chunk (default {defaults.chunk_tokens}).",
        )
        parser.add_argument("--seed", type=int, default=defaults.seed, help="Default seed for replies.")
        parser.add_argument(
            "--fixed-pace",
            action="store_true",
            help="Serve every request at exactly the configured pace: no queueing under load and no "
            "faster prefill for cached prompts (the benchmark's setting; proxy/emulator/serving.py).",
        )
        parser.add_argument(
            "--stream-history",
            type=int,
            default=200,
            help="How many stream records /_emulator/state keeps (default 200).",
        )
        parser.add_argument(
            "--request-history",
            type=int,
            default=50,
            help="How many requests /_emulator/state logs (default 50).",
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        ttft_ms: float,
        tokens_per_second: float,
        chunk_tokens: int,
        seed: int,
        stream_history: int = 200,
        request_history: int = 50,
        fixed_pace: bool = False,
        **options: Any,
    ) -> None:
        import uvicorn

        from proxy.emulator.app import EmulatorConfig, create_app

        try:
            config = EmulatorConfig().updated(
                {
                    "ttft_ms": ttft_ms,
                    "tokens_per_second": tokens_per_second,
                    "chunk_tokens": chunk_tokens,
                    "seed": seed,
                    **({"queue_ms_per_stream": 0, "cached_prefill_saving": 0} if fixed_pace else {}),
                }
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Offline Fireworks emulator on http://{host}:{port}/inference/v1 "
            f"(ttft {config.ttft_ms:g} ms, {config.tokens_per_second:g} tokens/s, "
            f"{config.chunk_tokens} token(s) per chunk, seed {config.seed})"
        )
        uvicorn.run(
            create_app(config, stream_history=stream_history, request_history=request_history),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            # Idle connections are kept as a load balancer in front of an API keeps them (nginx's default
            # is 75 s), not uvicorn's 5 s: the proxy keeps its own 30 s (FIREWORKS_KEEPALIVE_SECONDS).
            timeout_keep_alive=75,
        )
