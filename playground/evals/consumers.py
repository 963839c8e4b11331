"""``/ws/eval/``: follow an eval run's progress live, start it, stop it (proxy/PROTOCOL.md, "Eval runs").

The eval runs as a task of the server process (``runner.EvalRunner``), never of this socket: closing the
page does not stop it. Watchers join the channel-layer group ``eval.<id>``, so a page on any process
sees the cells of an eval running on another.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import PermissionDenied

from playground.evals import runner as runners
from playground.evals.models import EvalRun
from playground.evals.selectors import eval_for_viewer, eval_get_for_user, eval_progress
from playground.evals.services import EvalError
from playground.selectors.sharing import ShareLinkGone
from proxy.dispatch import FrameConsumer, Handler
from proxy.protocol import FrameError

MAX_WATCHED = 5


def _eval_id(content: dict[str, Any]) -> int:
    value = content.get("eval")
    if not isinstance(value, int) or isinstance(value, bool):
        raise FrameError("invalid_frame", "'eval' must be an eval id (a number).", param="eval")
    return value


def _not_found() -> FrameError:
    return FrameError("not_found", "No such eval.", param="eval")


class EvalConsumer(FrameConsumer):
    """Watch, run and stop eval runs."""

    unknown_type_hint = " (this socket takes eval.watch, eval.run and eval.stop)"

    async def connect(self) -> None:
        self.watched: set[int] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        self.closed = True
        for eval_id in self.watched:
            await self.channel_layer.group_discard(runners.group_name(eval_id), self.channel_name)

    def handlers(self) -> dict[str, Handler]:
        return {"eval.watch": self.eval_watch, "eval.run": self.eval_run, "eval.stop": self.eval_stop}

    def _user(self) -> Any:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise FrameError("forbidden", "Sign in to run or stop an eval.", param="eval")
        return user

    async def eval_watch(self, content: dict[str, Any]) -> None:
        eval_id = _eval_id(content)
        share = content.get("share")
        if share is not None and not isinstance(share, str):
            raise FrameError("invalid_frame", "'share' must be a share link's token.", param="share")

        def look() -> tuple[EvalRun, dict[str, int]]:
            eval_run = eval_for_viewer(user=self.scope.get("user"), eval_id=eval_id, share_token=share)
            return eval_run, eval_progress(eval_run)

        try:
            eval_run, progress = await database_sync_to_async(look)()
        except (EvalRun.DoesNotExist, ShareLinkGone):
            raise _not_found() from None
        if eval_id not in self.watched:
            if len(self.watched) >= MAX_WATCHED:
                raise FrameError(
                    "invalid_frame", f"A socket follows at most {MAX_WATCHED} evals.", param="eval"
                )
            await self.channel_layer.group_add(runners.group_name(eval_id), self.channel_name)
            self.watched.add(eval_id)
        await self.send_frame(
            {"type": "eval.watching", "eval": eval_id, "status": eval_run.status, "progress": progress}
        )

    async def eval_run(self, content: dict[str, Any]) -> None:
        eval_id = _eval_id(content)
        user = self._user()
        try:
            runner = await runners.EvalRunner.claim(
                eval_id=eval_id, user=user, server_key=settings.FIREWORKS_API_KEY, layer=self.channel_layer
            )
        except EvalRun.DoesNotExist:
            raise _not_found() from None
        except EvalError as exc:
            raise FrameError("conflict", exc.messages[0], param="eval") from None
        except PermissionDenied as exc:
            raise FrameError("forbidden", str(exc), param="eval") from None
        runner.start()

    async def eval_stop(self, content: dict[str, Any]) -> None:
        eval_id = _eval_id(content)
        user = self._user()
        try:
            await database_sync_to_async(eval_get_for_user)(user=user, eval_id=eval_id, action="run")
        except EvalRun.DoesNotExist:
            raise _not_found() from None
        except PermissionDenied as exc:
            raise FrameError("forbidden", str(exc), param="eval") from None
        await runners.eval_stop(eval_id=eval_id, layer=self.channel_layer)

    async def eval_frame(self, event: dict[str, Any]) -> None:
        """A frame for the eval's watchers (sent by its runner through the channel layer)."""
        await self.send_text(event["text"])
