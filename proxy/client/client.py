"""The one client for the upstream (Fireworks or any OpenAI-compatible server).

It streams ``/chat/completions`` and ``/completions`` with httpx, decodes the server-sent events with
``proxy.client.sse`` and yields the plain events of ``proxy.client.events``. Every failure is
translated here into the ``UpstreamError`` family, with the API key scrubbed out: no httpx exception
leaves this module.
It imports neither Django nor Channels.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from proxy.client.chunks import StreamState, chunk_events, opened_from
from proxy.client.dialect import MAX_RETRIES, REFUSAL_STATUSES, REFUSALS, Dialect, refused_fields, without
from proxy.client.errors import (
    STATUSES,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamStreamError,
    UpstreamTimeout,
    error_fields,
    plain_text,
    retry_after_seconds,
    scrub,
)
from proxy.client.events import Event, Finish
from proxy.client.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, too_deep
from proxy.client.responses import ResponsesStreamError, ResponsesTranslator
from proxy.client.sse import SSEDecoder, SSEEvent, SSEEventTooLarge
from proxy.client.transport import NotHTTPError, UpstreamTransport

__all__ = ["UpstreamClient", "close_shared_clients", "prepare_body", "scrub", "shared_client"]

Endpoint = Literal["chat", "completions", "responses"]
FIREWORKS = Dialect("fireworks")
_PATHS: dict[str, str] = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "responses": "/responses",
}

# Enough of an error body to explain it; a proxy's HTML error page can be far longer.
_MAX_ERROR_BODY = 64 * 1024
_BODY_SNIPPET = 2000
# After [DONE] the body should end at once; reading the end lets the connection go back to the pool.
_DRAIN_SECONDS = 1.0


class _Secret:
    """Holds the API key so that no repr, vars() dump or debug page shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "[redacted]" if self.value else "''"


def prepare_body(
    body: dict[str, Any], *, endpoint: Endpoint = "chat", dialect: Dialect = FIREWORKS
) -> dict[str, Any]:
    """Return the exact body to send to a server of ``dialect``: streaming on; usage asked for, and
    Fireworks' perf metrics from Fireworks and the emulator, unless the user switched them off (a
    ``False`` here means off: it is not sent at all); the fields the server refused before left out."""
    prepared = dict(body)
    prepared["stream"] = True
    if endpoint != "responses":  # the Responses API ends with its usage anyway, and has no perf switch
        if "stream_options" not in prepared:
            prepared["stream_options"] = {"include_usage": True}
        elif prepared["stream_options"] == {"include_usage": False}:
            del prepared["stream_options"]
        if "perf_metrics_in_response" not in prepared:
            if dialect.extensions:
                prepared["perf_metrics_in_response"] = True
        elif prepared["perf_metrics_in_response"] is False:
            del prepared["perf_metrics_in_response"]
    return without(prepared, dialect.refused)


def _gather(events: Iterator[Event]) -> tuple[list[Event], UpstreamError | None]:
    """The events up to a bad line and its error, so the events before it still reach the user first."""
    batch: list[Event] = []
    try:
        for event in events:
            batch.append(event)
    except UpstreamError as exc:
        return batch, exc
    return batch, None


class UpstreamClient:
    """Streams completions from one OpenAI-compatible base URL over one httpx connection pool."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str = "",
        connect_timeout: float = 10.0,
        first_byte_timeout: float = 120.0,
        gap_timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 1000,
        keepalive: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = _Secret(api_key)
        self.connect_timeout = connect_timeout
        self.first_byte_timeout = first_byte_timeout
        self.gap_timeout = gap_timeout
        self.keepalive = keepalive
        host = urlsplit(self.base_url).netloc or self.base_url
        # Errors name the server so that a person knows whom to blame.
        self.upstream_name = "Fireworks" if host.endswith("fireworks.ai") else f"The upstream at {host}"
        # An idle connection is kept ``keepalive`` seconds (httpx's default is 5): a user who reads a reply
        # and writes the next prompt would otherwise pay a new connection, and its TLS handshake, each time.
        # A server that closes sooner is seen closing, and its connection is not reused.
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive,
        )
        self._client = httpx.AsyncClient(
            transport=transport or UpstreamTransport(limits=limits),
            # One client serves every user: a cookie one response sets must not go out with the next.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            # Reads are not limited by httpx: the first-byte and gap limits are enforced per read
            # below, so that each limit means exactly what its name says.
            timeout=httpx.Timeout(connect=connect_timeout, read=None, write=first_byte_timeout, pool=None),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"<UpstreamClient {self.base_url}>"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _headers(self, extra: dict[str, str] | None, accept: str) -> dict[str, str]:
        headers = {"accept": accept, "content-type": "application/json"}
        if extra:
            headers.update(extra)
        if self._key.value:
            headers["authorization"] = f"Bearer {self._key.value}"
        return headers

    def _post(
        self, body: dict[str, Any], endpoint: Endpoint, headers: dict[str, str] | None
    ) -> httpx.Request:
        try:
            content = json.dumps(body, ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise UpstreamError(
                f"The request body cannot be sent as JSON: {scrub(str(exc), self._key.value)}",
                code="invalid_body",
            ) from None
        return self._client.build_request(
            "POST",
            self.base_url + _PATHS[endpoint],
            content=content,
            headers=self._headers(headers, "text/event-stream, application/json"),
        )

    async def stream_chat(
        self,
        body: dict[str, Any],
        *,
        endpoint: Endpoint = "chat",
        headers: dict[str, str] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Send ``body`` as given and yield Opened, then Delta/Finish/Usage/Perf, then one Done."""
        batches = self.stream_batches(body, endpoint=endpoint, headers=headers)
        try:
            async for batch in batches:
                for event in batch:
                    yield event
        finally:
            await batches.aclose()

    async def stream_batches(
        self,
        body: dict[str, Any],
        *,
        endpoint: Endpoint = "chat",
        headers: dict[str, str] | None = None,
    ) -> AsyncGenerator[list[Event], None]:
        """``stream_chat``'s events grouped by the network read they came in (a relay sends each as one)."""
        model = body.get("model") if isinstance(body.get("model"), str) else None
        loop = asyncio.get_running_loop()
        response: httpx.Response | None = None
        chunks: AsyncIterator[bytes] | None = None
        # Fields the server refused by name, dropped for the retries (MAX_RETRIES at most).
        dropped: list[str] = []
        sent = body
        state: StreamState | None = None
        try:
            for attempt in range(MAX_RETRIES + 1):
                request = self._post(sent, endpoint, headers)
                first_byte_deadline = loop.time() + self.first_byte_timeout
                response = await self._send(request, first_byte_deadline)
                if 200 <= response.status_code < 300:
                    break
                text = await self._error_text(response)
                refused = (
                    refused_fields(response.status_code, text, sent)
                    if attempt < MAX_RETRIES and response.status_code in REFUSAL_STATUSES
                    else []
                )
                if not refused:
                    raise self._http_error(response, text, model=model, path=_PATHS[endpoint])
                # The same request once more without what the server does not know; remembered, so
                # the next request leaves it out at once (proxy/client/dialect.py).
                await _close(response)
                response = None
                REFUSALS.add(self.base_url, refused)
                dropped += refused
                sent = without(sent, refused)
            assert response is not None
            yield [opened_from(response.status_code, response.headers, dropped=tuple(dropped))]
            content_type = response.headers.get("content-type", "").lower()
            chunks = response.aiter_bytes()
            translator = ResponsesTranslator() if endpoint == "responses" else None
            if "json" in content_type:
                raw = await self._read_all(chunks, first_byte_deadline, limit=MAX_BODY_BYTES, strict=True)
                yield self._whole(raw, translator)
                return
            sniff = "event-stream" not in content_type
            state = StreamState()
            decoder = SSEDecoder()
            gap = False
            drain_deadline: float | None = None
            while True:
                if state.saw_done:
                    # One deadline for all that follows [DONE]: a server that keeps sending after it
                    # (keep-alives, garbage) must not hold the stream open.
                    drain_deadline = drain_deadline or loop.time() + _DRAIN_SECONDS
                    if loop.time() >= drain_deadline:
                        break
                    try:
                        chunk = await self._read(chunks, drain_deadline, "drain")
                    except UpstreamError:
                        break  # whatever follows [DONE] does not matter
                else:
                    chunk = await self._read(
                        chunks,
                        loop.time() + self.gap_timeout if gap else first_byte_deadline,
                        "gap" if gap else "first_byte",
                    )
                gap = True
                if sniff and chunk is not None and chunk.lstrip()[:1] == b"{":
                    # A whole JSON completion under a vague content type (some servers send text/plain).
                    rest = await self._read_all(
                        chunks, loop.time() + self.gap_timeout, limit=MAX_BODY_BYTES, first=False, strict=True
                    )
                    yield self._whole(chunk + rest, translator)
                    return
                sniff = False
                if chunk is None:
                    batch, error = _gather(self._sse_events(decoder.close(), state, translator))
                    if batch:
                        yield batch
                    if error is not None:
                        raise error
                    break
                if state.saw_done:
                    continue
                try:
                    sse_events = decoder.feed(chunk)
                except SSEEventTooLarge as exc:
                    raise UpstreamProtocolError(f"{self.upstream_name} sent {exc}.") from None
                batch, error = _gather(self._sse_events(sse_events, state, translator))
                if batch:
                    yield batch
                if error is not None:
                    raise error
            if not state.saw_done and not state.finish_reasons:
                raise UpstreamConnectionError(
                    f"{self.upstream_name} ended the stream before it finished "
                    "(no finish_reason and no [DONE]).",
                    code="incomplete_stream",
                    request_id=response.headers.get("x-request-id"),
                )
            yield [*state.flush(), state.done()]
        except UpstreamError as exc:
            if exc.request_id is None and response is not None:
                exc.request_id = response.headers.get("x-request-id")
            held = state.flush() if state is not None else []
            if held:
                yield held  # the text before the failure, held back as a possible tag's start
            raise
        finally:
            # Closing the response stops generation upstream (and billing) and frees the connection.
            if response is not None:
                try:
                    await _close(response)
                finally:
                    if isinstance(chunks, AsyncGenerator):
                        await chunks.aclose()

    def _sse_events(
        self, sse_events: list[SSEEvent], state: StreamState, translator: ResponsesTranslator | None = None
    ) -> Iterator[Event]:
        # A generator, so that the events before a bad line still reach the user before the error.
        for sse in sse_events:
            if state.saw_done:
                break
            data = sse.data
            if data == "[DONE]":
                state.saw_done = True
                break
            try:
                obj = json.loads(data)
            except RecursionError:
                obj = None  # nested past any limit: refused just below
            except ValueError:
                if sse.event == "error":  # an error event whose data is plain text
                    raise self._stream_error({"error": data}, data) from None
                raise UpstreamProtocolError(
                    f"{self.upstream_name} sent a stream line that is not JSON: {self._snippet(data)!r}",
                    body=self._snippet(data),
                ) from None
            if isinstance(obj, list) and obj and isinstance(obj[0], dict) and obj[0].get("error"):
                raise self._stream_error(obj[0], data)  # an array of error objects, as some servers send
            # Counting brackets is cheap; only a chunk with enough of them can nest too deep.
            if obj is None or (data.count("{") + data.count("[") > MAX_JSON_DEPTH and too_deep(obj)):
                raise UpstreamProtocolError(
                    f"{self.upstream_name} sent a stream chunk nested deeper than {MAX_JSON_DEPTH} levels."
                )
            if not isinstance(obj, dict):
                raise UpstreamProtocolError(
                    f"{self.upstream_name} sent a stream chunk that is not a JSON object: "
                    f"{self._snippet(data)!r}",
                    body=self._snippet(data),
                )
            if obj.get("error") or sse.event == "error" or obj.get("object") == "error":
                raise self._stream_error(obj, data)
            if translator is None:
                yield from chunk_events(obj, state, whole=False)
            else:
                yield from self._translated(translator, state, obj, sse.event, data)

    def _translated(
        self,
        translator: ResponsesTranslator,
        state: StreamState,
        obj: dict[str, Any],
        event_name: str | None,
        data: str,
        *,
        whole: bool = False,
    ) -> list[Event]:
        """A Responses event (or whole response) as events; its end counts as the stream's end marker."""
        try:
            events = translator.whole(obj) if whole else translator.events(obj, event_name)
        except ResponsesStreamError as exc:
            raise self._stream_error({"error": exc.body}, data) from None
        state.response_id, state.model = translator.response_id, translator.model
        for event in events:
            if isinstance(event, Finish):
                state.finish_reasons[event.choice] = event.reason
        if translator.finished is not None:
            state.saw_done = True
        return events

    def _stream_error(self, obj: dict[str, Any], data: str) -> UpstreamStreamError:
        message, param = error_fields(obj)
        text = scrub(message or "no message", self._key.value)
        error = obj.get("error")
        request_id = obj.get("request_id") or (error.get("request_id") if isinstance(error, dict) else None)
        return UpstreamStreamError(
            f"{self.upstream_name} reported an error during the stream: {text}",
            request_id=request_id if isinstance(request_id, str) else None,
            param=param,
            body=self._snippet(data),
        )

    def _whole(self, raw: bytes, translator: ResponsesTranslator | None = None) -> list[Event]:
        """A 200 that is not an event stream: one whole completion, turned into the same events."""
        text = raw.decode("utf-8", "replace")
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            raise UpstreamProtocolError(
                f"{self.upstream_name} answered with a body that is not JSON: {self._snippet(text)!r}",
                body=self._snippet(text),
            ) from None
        if too_deep(obj):
            raise UpstreamProtocolError(
                f"{self.upstream_name} answered with JSON nested deeper than {MAX_JSON_DEPTH} levels."
            )
        if not isinstance(obj, dict):
            raise UpstreamProtocolError(
                f"{self.upstream_name} answered with JSON that is not an object: {self._snippet(text)!r}",
                body=self._snippet(text),
            )
        if obj.get("error"):
            raise self._stream_error(obj, text)
        state = StreamState()
        if translator is not None:
            return [*self._translated(translator, state, obj, None, text, whole=True), state.done()]
        return [*chunk_events(obj, state, whole=True), state.done()]

    async def list_models(self) -> list[dict[str, Any]]:
        """GET ``{base_url}/models`` and return its ``data`` list."""
        request = self._client.build_request(
            "GET", self.base_url + "/models", headers=self._headers(None, "application/json")
        )
        deadline = asyncio.get_running_loop().time() + self.first_byte_timeout
        response = await self._send(request, deadline)
        try:
            if not 200 <= response.status_code < 300:
                raise self._http_error(
                    response, await self._error_text(response), model=None, what="the model list"
                )
            raw = await self._read_all(response.aiter_bytes(), deadline, limit=MAX_BODY_BYTES, strict=True)
        finally:
            await _close(response)
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            raise UpstreamProtocolError(
                f"{self.upstream_name} answered /models with a body that is not JSON: "
                f"{self._snippet(raw.decode('utf-8', 'replace'))!r}"
            ) from None
        data = obj.get("data") if isinstance(obj, dict) else obj
        if not isinstance(data, list):
            raise UpstreamProtocolError(f"{self.upstream_name} answered /models without a data list.")
        return [item for item in data if isinstance(item, dict)]

    # --- transport plumbing: the only place httpx exceptions are seen ---

    async def _send(self, request: httpx.Request, deadline: float) -> httpx.Response:
        try:
            async with asyncio.timeout_at(deadline):
                return await self._client.send(request, stream=True)
        except TimeoutError:
            raise UpstreamTimeout(
                f"{self.upstream_name} did not answer within {self.first_byte_timeout:g} s "
                "(the first-byte timeout).",
                code="first_byte_timeout",
            ) from None
        except httpx.ConnectTimeout:
            raise UpstreamTimeout(
                f"Could not connect to {self.upstream_name_lower} within {self.connect_timeout:g} s "
                "(the connect timeout).",
                code="connect_timeout",
            ) from None
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"Timed out talking to {self.upstream_name_lower}: {self._exc_text(exc)}", code="timeout"
            ) from None
        except httpx.ConnectError as exc:
            raise UpstreamConnectionError(
                f"Could not connect to {self.upstream_name_lower}: {self._exc_text(exc)}"
            ) from None
        except NotHTTPError as exc:  # it answered, but not in HTTP: retrying will not help
            raise UpstreamProtocolError(f"{self.upstream_name} answered, but {self._exc_text(exc)}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise UpstreamConnectionError(
                f"{self.upstream_name} closed the connection before answering: {self._exc_text(exc)}"
            ) from None
        except OSError as exc:  # a transport that lets a socket error through untranslated
            raise UpstreamConnectionError(
                f"Could not talk to {self.upstream_name_lower}: {self._exc_text(exc)}"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise UpstreamError(
                f"The request to {self.upstream_name_lower} failed: {self._exc_text(exc)}",
                code="request_failed",
            ) from None

    async def _read(self, chunks: AsyncIterator[bytes], deadline: float, limit: str) -> bytes | None:
        """The next body chunk, or None at the end; the deadline is the first-byte or the gap limit."""
        try:
            async with asyncio.timeout_at(deadline):
                return await anext(chunks)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            if limit == "first_byte":
                raise UpstreamTimeout(
                    f"{self.upstream_name} sent no data within {self.first_byte_timeout:g} s "
                    "(the first-byte timeout).",
                    code="first_byte_timeout",
                ) from None
            raise UpstreamTimeout(
                f"{self.upstream_name} went silent for {self.gap_timeout:g} s in the middle of the stream "
                "(the timeout between two chunks).",
                code="gap_timeout",
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise UpstreamConnectionError(
                f"The connection to {self.upstream_name_lower} was cut in the middle of the response: "
                f"{self._exc_text(exc)}",
                code="stream_cut",
            ) from None
        except httpx.DecodingError as exc:
            raise UpstreamProtocolError(
                f"{self.upstream_name} sent a body that could not be decoded: {self._exc_text(exc)}"
            ) from None
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"Reading from {self.upstream_name_lower} timed out: {self._exc_text(exc)}", code="timeout"
            ) from None
        except OSError as exc:
            raise UpstreamConnectionError(
                f"The connection to {self.upstream_name_lower} failed in the middle of the response: "
                f"{self._exc_text(exc)}",
                code="stream_cut",
            ) from None
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise UpstreamError(
                f"Reading from {self.upstream_name_lower} failed: {self._exc_text(exc)}", code="read_failed"
            ) from None

    async def _read_all(
        self,
        chunks: AsyncIterator[bytes],
        deadline: float,
        *,
        limit: int,
        first: bool = True,
        strict: bool = False,
    ) -> bytes:
        """The rest of a body, up to ``limit`` bytes: cut there, or refused when ``strict``."""
        loop = asyncio.get_running_loop()
        parts: list[bytes] = []
        size = 0
        kind = "first_byte" if first else "gap"
        while (chunk := await self._read(chunks, deadline, kind)) is not None:
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                if strict:
                    raise UpstreamProtocolError(
                        f"{self.upstream_name} sent a body larger than {limit} bytes."
                    )
                break
            kind, deadline = "gap", loop.time() + self.gap_timeout
        return b"".join(parts)

    async def _error_text(self, response: httpx.Response) -> str:
        """An error response's body as text (bounded, scrubbed); empty when it cannot be read."""
        deadline = asyncio.get_running_loop().time() + min(self.first_byte_timeout, self.gap_timeout)
        try:
            raw = await self._read_all(response.aiter_bytes(), deadline, limit=_MAX_ERROR_BODY)
        except UpstreamError:
            raw = b""  # the status alone still says what went wrong
        return scrub(raw.decode("utf-8", "replace"), self._key.value)

    def _http_error(
        self,
        response: httpx.Response,
        text: str,
        *,
        model: str | None,
        what: str | None = None,
        path: str | None = None,
    ) -> UpstreamError:
        """Turn a non-2xx response, whatever its body, into an UpstreamHTTPError a person understands."""
        status = response.status_code
        obj: Any = None
        if text.strip():
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                obj = None
        if isinstance(obj, list):
            # Some servers (Google's among them) answer with a JSON array of error objects.
            first = next((item for item in obj if isinstance(item, (dict, str))), None)
            obj = first if first is not None else None
        message: str | None = None
        param: str | None = None
        request_id: str | None = None
        if isinstance(obj, dict):
            message, param = error_fields(obj)
            if isinstance(obj.get("request_id"), str):
                request_id = obj["request_id"]
        elif isinstance(obj, str):
            message = obj
        elif text.strip():
            message = plain_text(text)
        if message:
            message = scrub(message, self._key.value)
        code, retryable, meaning = STATUSES.get(
            status,
            ("client_error", False, "the request was refused")
            if 400 <= status < 500
            else ("server_error", status >= 500, "the server failed")
            if status >= 500
            else ("unexpected_status", False, "an unexpected status for this request"),
        )
        said = (message or meaning).strip()
        sentence = f"{self.upstream_name} returned {status}: {said}"
        if not said.endswith((".", "!", "?")):
            sentence += "."
        if status == 404 and what:
            sentence = (
                f"{self.upstream_name} returned 404: {said.rstrip('.')} ({what} is not at {self.base_url})."
            )
        elif status == 404 and message and "model" in said.lower():
            # The model is unknown. Fireworks' wording does not name it; OpenAI's quotes the name it
            # got, which is not glued to it again.
            param = param or "model"
            if model and model not in said and not any(q in said for q in "`'\""):
                sentence = f"{self.upstream_name} returned 404: {said.rstrip('.')}: {model}."
        elif status == 404:
            # Nothing says "model": most likely the server has no such path (a base URL that is
            # not the API's root), which no model would fix.
            where = f"{self.base_url}{path or ''}"
            if message or not model:
                sentence += f" This server has no {where}: check FIREWORKS_BASE_URL."
            else:  # an empty 404 says nothing either way
                sentence += (
                    f" The model {model!r} was not found, or this server has no {where}"
                    " (check FIREWORKS_BASE_URL)."
                )
        elif status == 401:
            sentence += " Check the API key."
        elif status == 429:
            retry_after = response.headers.get("retry-after")
            if retry_after:
                sentence += f" Retry after {retry_after} s."
        return UpstreamHTTPError(
            sentence,
            status=status,
            code=code,
            retryable=retryable,
            request_id=request_id or response.headers.get("x-request-id"),
            param=param,
            body=text[:_BODY_SNIPPET],
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )

    @property
    def upstream_name_lower(self) -> str:
        """The upstream's name in the middle of a sentence."""
        name = self.upstream_name
        return name if name == "Fireworks" else name[0].lower() + name[1:]

    def _exc_text(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return scrub(text, self._key.value)[:300]

    def _snippet(self, text: str) -> str:
        return scrub(text, self._key.value)[:200]


_SHARED: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str, float, float, float, float], UpstreamClient]
]
_SHARED = weakref.WeakKeyDictionary()


async def _close(response: httpx.Response) -> None:
    """Close a response (the upstream stops generating, the connection is freed), and drop the link
    from its body back to it: httpx's ``BoundAsyncStream`` and the response refer to each other, which
    left every stream's response, its headers and aiohttp's objects to the garbage collector."""
    try:
        await response.aclose()
    finally:
        response.stream = httpx.ByteStream(b"")


def shared_client(
    *,
    base_url: str,
    api_key: str,
    connect_timeout: float,
    first_byte_timeout: float,
    gap_timeout: float,
    keepalive: float = 30.0,
) -> UpstreamClient:
    """One client per running event loop and configuration, so connections are reused across streams."""
    loop = asyncio.get_running_loop()  # an httpx.AsyncClient is bound to the loop it first ran on
    clients = _SHARED.get(loop)
    if clients is None:
        clients = _SHARED[loop] = {}
    # The key is hashed so the cache holds no copy of it.
    key = (
        base_url,
        hashlib.sha256(api_key.encode()).hexdigest(),
        connect_timeout,
        first_byte_timeout,
        gap_timeout,
        keepalive,
    )
    client = clients.get(key)
    if client is None:
        client = clients[key] = UpstreamClient(
            base_url=base_url,
            api_key=api_key,
            connect_timeout=connect_timeout,
            first_byte_timeout=first_byte_timeout,
            gap_timeout=gap_timeout,
            keepalive=keepalive,
        )
    return client


async def close_shared_clients() -> None:
    """Close this event loop's shared clients and their pooled connections (before the loop ends)."""
    clients = _SHARED.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        await client.aclose()
