"""An eval run on the server: every pending cell through the one stream machinery, a bounded number at
a time, scored and saved, its progress told to the eval's watchers through the channel layer.

Each cell is a ``proxy.stream.StreamRun`` (``CellStream``: its run record opens on the eval's
conversation) whose request is built by ``proxy.frames.parse_start`` from the cell's chat.start frame,
with the upstream client from a factory (``proxy.consumers.upstream_client`` unless injected), wrapped
so that a 429 is tried again after the server's ``retry-after`` (before anything was relayed). Stop
cancels every cell task: a running stream closes its upstream response and saves its partial run as
stopped (StreamRun does that), a waiting cell stays pending. The runner says it is alive every few
seconds (``eval_heartbeat``); a run whose process died is marked interrupted on the next start
(``services.eval_interrupt_orphans``).

Frames to watchers (``proxy/protocol.py``): ``eval.cell`` as each cell ends, ``eval.status`` when the
run starts and ends; the group is ``eval.<id>``, the runner listens for stops on ``eval.<id>.runner``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async

from playground.evals import scorers as scoring
from playground.evals import services
from playground.evals.models import EvalCell, EvalRun
from playground.evals.selectors import cell_data, eval_progress
from playground.prompts.template import cell_start
from playground.selectors.workspaces import run_access
from proxy.client.client import Endpoint
from proxy.client.errors import UpstreamError
from proxy.client.events import Event
from proxy.frames import parse_start
from proxy.stream import INTERNAL_ERROR, StreamingClient, StreamRun, read

logger = logging.getLogger(__name__)

MAX_RETRIES = 5  # 429s tried again per request
MAX_RETRY_WAIT = 60.0  # seconds, whatever retry-after says
# This process's running evals, by id (a stop from a socket of this process reaches them directly).
RUNNERS: dict[int, EvalRunner] = {}


def group_name(eval_id: int) -> str:
    """The channel-layer group of an eval's watchers."""
    return f"eval.{eval_id}"


def runner_group_name(eval_id: int) -> str:
    """The group the process running an eval listens on (for stops from any process)."""
    return f"eval.{eval_id}.runner"


class RetryingClient:
    """A streaming client that sends a request again after a 429 (waiting the server's ``retry-after``,
    else 1, 2, 4 … s), only while nothing has been relayed; counts the requests it sent."""

    def __init__(
        self,
        client: StreamingClient,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_request: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.sleep = sleep
        self.on_request = on_request

    async def stream_batches(
        self, body: dict[str, Any], *, endpoint: Endpoint = "chat"
    ) -> AsyncGenerator[list[Event], None]:
        for attempt in range(MAX_RETRIES + 1):
            events = self.client.stream_batches(body, endpoint=endpoint)
            self.on_request()
            try:
                first = await anext(events, None)
            except UpstreamError as exc:
                await events.aclose()
                if exc.status != 429 or attempt == MAX_RETRIES:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else float(2**attempt)
                await self.sleep(min(MAX_RETRY_WAIT, wait))
                continue
            except BaseException:
                await events.aclose()
                raise
            try:
                if first is not None:
                    yield first
                async for batch in events:
                    yield batch
            finally:
                await events.aclose()
            return


def stream_end(stream: StreamRun) -> dict[str, Any]:
    """The stream's last frame as saved (``chat.done`` or ``chat.error``; its record keeps it even when a
    stop came while it was being saved and the frame was never sent); {} when it never opened."""
    timeline = stream.record.timeline
    if timeline and timeline[-1].get("type") in ("chat.done", "chat.error"):
        return timeline[-1]
    return {}


class CellHooks:
    """A cell's stream has no socket: its frames go nowhere (the eval tells its watchers per cell)."""

    async def send_stream_frame(self, run: StreamRun, frame: dict[str, Any]) -> None:
        return None

    async def stream_opened(self, run: StreamRun) -> None:
        return None

    async def stream_closed(self, run: StreamRun) -> None:
        return None


class CellStream(StreamRun):
    """A cell's stream: its run record opens on the eval's conversation and the cell links to it."""

    def __init__(self, *args: Any, cell_id: int, judge: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cell_id = cell_id
        self.judge = judge

    def _create_run(self) -> Any:
        start = self.start
        return services.cell_open(
            cell_id=self.cell_id,
            user=self.user,
            mode=start.mode,
            model=start.model,
            request=start.body,
            judge=self.judge,
        )


def default_client_factory(api_key: str) -> StreamingClient:
    from proxy.consumers import upstream_client

    return upstream_client(api_key)


class EvalRunner:
    """One eval's run in this process."""

    def __init__(
        self,
        eval_run: EvalRun,
        cells: list[tuple[int, int, int, int]],
        *,
        user: Any,
        client_factory: Callable[[str], StreamingClient] = default_client_factory,
        server_key: str = "",
        layer: Any = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.eval_run = eval_run
        self.eval_id = eval_run.pk
        self.cells = cells
        self.user = user
        self.client_factory = client_factory
        self.server_key = server_key
        self.layer = layer
        self.sleep = sleep
        self.columns = eval_run.columns
        self.tasks: list[asyncio.Task[None]] = []
        self.task: asyncio.Task[str] | None = None
        self.stopping = False
        self.api_key = ""
        self.started = time.monotonic()
        self.ended_here = 0
        self.progress: dict[str, int] = {}
        self.requests = 0  # requests sent upstream by this run (answers and judges, 429s included)

    @classmethod
    async def claim(cls, *, eval_id: int, user: Any, **kwargs: Any) -> EvalRunner:
        """Mark the eval running here (raises as ``services.eval_claim``) and make its runner."""
        eval_run, cells = await database_sync_to_async(services.eval_claim)(user=user, eval_id=eval_id)
        return cls(eval_run, cells, user=user, **kwargs)

    def start(self) -> asyncio.Task[str]:
        """Run as a task of this process (not of any socket), registered until it ends."""
        RUNNERS[self.eval_id] = self
        self.task = asyncio.create_task(self.run(), name=f"eval-{self.eval_id}")
        self.task.add_done_callback(lambda _: RUNNERS.pop(self.eval_id, None))
        return self.task

    def stop(self) -> None:
        """Close every running request (their partial runs saved as stopped); keep what finished."""
        self.stopping = True
        for task in self.tasks:
            task.cancel()

    async def run(self) -> str:
        """Run every cell; returns the eval's final status (done, or stopped)."""
        status = EvalRun.Status.STOPPED
        listener = heartbeat = None
        try:
            self.api_key = await read(run_access)(
                user=self.user, conversation_id=self.eval_run.conversation_id, workspace_id=None
            )
            self.progress = await database_sync_to_async(eval_progress)(self.eval_run)
            listener = await self._listen()
            heartbeat = asyncio.create_task(self._heartbeat())
            await self._tell_status(EvalRun.Status.RUNNING)
            semaphore = asyncio.Semaphore(self.eval_run.concurrency)
            self.tasks = [asyncio.create_task(self._cell(semaphore, *cell)) for cell in self.cells]
            if self.stopping:
                self.stop()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            status = EvalRun.Status.STOPPED if self.stopping else EvalRun.Status.DONE
        except asyncio.CancelledError:
            self.stop()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        except Exception:
            logger.exception("Eval %s failed", self.eval_id)
            self.stop()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        finally:
            for task in (heartbeat, listener):
                if task is not None:
                    task.cancel()
            await asyncio.shield(
                database_sync_to_async(services.eval_finish)(eval_id=self.eval_id, status=status)
            )
            self.progress = await database_sync_to_async(eval_progress)(self.eval_run)
            await self._tell_status(status)
        return status

    # --- one cell ---------------------------------------------------------------------------------

    async def _cell(
        self, semaphore: asyncio.Semaphore, cell_id: int, row: int, column: int, sample: int
    ) -> None:
        """One cell, whatever happens: a failure no check foresaw ends it as an error, never pending."""
        try:
            await self._run_cell(semaphore, cell_id, row, column, sample)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error(
                "Eval %s, cell %s failed:\n%s",
                self.eval_id,
                cell_id,
                "".join(traceback.format_exception(exc)).replace(self.api_key or "\0", "[redacted]"),
            )
            cell = await database_sync_to_async(services.cell_finish)(
                cell_id=cell_id,
                status=EvalCell.Status.ERROR,
                answer="",
                figures={},
                usage=None,
                scores=[],
                passed=None,
                error={**INTERNAL_ERROR, "message": "The server failed while running this cell."},
                attempts=0,
            )
            await self._tell_cell(cell)

    async def _run_cell(
        self, semaphore: asyncio.Semaphore, cell_id: int, row: int, column: int, sample: int
    ) -> None:
        async with semaphore:
            if self.stopping:
                return
            spec = self.columns[column]
            prompt = self.eval_run.prompts[int(spec["prompt"])]
            config = self.eval_run.configs[int(spec["config"])]
            values = self.eval_run.rows[row]["values"]
            frame = cell_start(
                prompt=prompt, config=config, values=values, stream=f"eval-{self.eval_id}-{cell_id}"
            )
            stream, attempts = await self._stream(frame, cell_id)
            if stream.run_id is None:
                await database_sync_to_async(services.cell_release)(cell_id=cell_id)
                return
            end = stream_end(stream)
            output = stream.record.output()
            # Scrubbed as the saved run is: an upstream that echoes a key never gets it into a cell.
            answer = stream.scrub((output[0].get("content") or "") if output else "")
            figures = dict(end.get("timings") or stream.record.figures())
            error = None
            if end.get("type") == "chat.error":
                status = EvalCell.Status.ERROR
                error = {k: end.get(k) for k in ("code", "message", "status")}
            elif end.get("status") == "stopped" or not end:
                status = EvalCell.Status.STOPPED
            else:
                status = EvalCell.Status.DONE
            scores: list[dict[str, Any]] = []
            passed = None
            if status == EvalCell.Status.DONE:
                expected = self.eval_run.rows[row].get("expected")
                scorer_configs = []
                for scorer in self.eval_run.scorers:
                    if scorer["kind"] == "judge":
                        scorer = await self._judge(scorer, cell_id, frame, answer, expected)
                    scorer_configs.append(scorer)
                scores, passed = scoring.score_all(scorer_configs, answer, expected, figures)
                for score, scorer in zip(scores, scorer_configs, strict=True):
                    if scorer.get("run"):
                        score["run"] = scorer["run"]
                        score["figures"] = scorer["figures"]
            saving = asyncio.ensure_future(
                database_sync_to_async(services.cell_finish)(
                    cell_id=cell_id,
                    status=status,
                    answer=answer,
                    figures=figures,
                    usage=stream.record.usage,
                    scores=scores,
                    passed=passed,
                    error=error,
                    attempts=attempts[0],
                )
            )
            try:
                cell = await asyncio.shield(saving)
            except asyncio.CancelledError:  # stopped while saving: what finished is kept
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                cell = await saving
        await self._tell_cell(cell)

    async def _stream(
        self, frame: dict[str, Any], cell_id: int, *, judge: bool = False
    ) -> tuple[CellStream, list[int]]:
        start = parse_start(frame)
        attempts = [0]

        def counted() -> None:
            attempts[0] += 1
            self.requests += 1

        def factory(api_key: str) -> StreamingClient:
            return RetryingClient(self.client_factory(api_key), sleep=self.sleep, on_request=counted)

        stream = CellStream(
            start,
            user=self.user,
            workspace_id=None,
            hooks=CellHooks(),
            client_factory=factory,
            server_key=self.server_key,
            access=self._access,
            cell_id=cell_id,
            judge=judge,
        )
        await stream()
        return stream, attempts

    async def _access(self, **_: Any) -> str:
        return self.api_key

    async def _judge(
        self, scorer: dict[str, Any], cell_id: int, frame: dict[str, Any], answer: str, expected: str | None
    ) -> dict[str, Any]:
        """Run the judge's stream; the scorer's options with its reply (or its error) and run id."""
        request = scoring.judge_request(
            scorer, question=services.question_of(frame), answer=answer, expected=expected
        )
        judge_frame = {"type": "chat.start", "stream": f"eval-{self.eval_id}-{cell_id}-judge", **request}
        stream, _ = await self._stream(judge_frame, cell_id, judge=True)
        end = stream_end(stream)
        output = stream.record.output()
        # The judge's own figures (its time and cost), kept with its score.
        out = {**scorer, "run": stream.run_id, "figures": end.get("timings") or {}}
        if end.get("type") == "chat.error" or end.get("status") != "done":
            out["error"] = end.get("message") or "stopped"
        else:
            out["reply"] = stream.scrub((output[0].get("content") or "") if output else "")
        return out

    # --- telling the watchers ---------------------------------------------------------------------

    def _eta(self) -> float | None:
        remaining = self.progress.get("total", 0) - self.progress.get("done", 0)
        if not self.ended_here or remaining <= 0:
            return None if remaining > 0 else 0.0
        return round((time.monotonic() - self.started) / self.ended_here * remaining, 1)

    async def _send(self, frame: dict[str, Any]) -> None:
        if self.layer is None:
            return
        try:
            await self.layer.group_send(
                group_name(self.eval_id), {"type": "eval.frame", "text": json.dumps(frame)}
            )
        except Exception as exc:  # a full or unreachable layer must not stop the eval
            logger.warning("Eval %s: a progress frame was not sent: %r", self.eval_id, exc)

    async def _tell_cell(self, cell: EvalCell) -> None:
        if cell.status in (EvalCell.Status.DONE, EvalCell.Status.ERROR):
            self.ended_here += 1
            self.progress["done"] = self.progress.get("done", 0) + 1
            if cell.status == EvalCell.Status.ERROR:
                self.progress["failed"] = self.progress.get("failed", 0) + 1
        await self._send(
            {
                "type": "eval.cell",
                "eval": self.eval_id,
                "cell": cell_data(cell),
                "progress": dict(self.progress),
                "eta_s": self._eta(),
            }
        )

    async def _tell_status(self, status: str) -> None:
        await self._send(
            {
                "type": "eval.status",
                "eval": self.eval_id,
                "status": status,
                "progress": dict(self.progress),
                "eta_s": self._eta(),
            }
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(services.HEARTBEAT_SECONDS)
            try:
                await database_sync_to_async(services.eval_heartbeat)(eval_id=self.eval_id)
            except Exception:
                logger.exception("Eval %s: the heartbeat was not saved", self.eval_id)

    async def _listen(self) -> asyncio.Task[None] | None:
        """Listen for stops sent to this eval from any process (``eval.stop`` on another server)."""
        if self.layer is None:
            return None
        channel = await self.layer.new_channel()
        await self.layer.group_add(runner_group_name(self.eval_id), channel)

        async def listen() -> None:
            try:
                while True:
                    message = await self.layer.receive(channel)
                    if message.get("type") == "eval.stop":
                        self.stop()
            finally:
                await self.layer.group_discard(runner_group_name(self.eval_id), channel)

        return asyncio.create_task(listen())


async def eval_stop(*, eval_id: int, layer: Any) -> None:
    """Stop an eval wherever it runs: directly in this process, else through the channel layer."""
    runner = RUNNERS.get(eval_id)
    if runner is not None:
        runner.stop()
    elif layer is not None:
        await layer.group_send(runner_group_name(eval_id), {"type": "eval.stop"})
