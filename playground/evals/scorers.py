"""Eval scorers: each one a plain function ``(answer, expected, config, figures) -> Score``.

``answer`` is the reply's text, ``expected`` the row's expected answer (None when the row has none),
``config`` the scorer's own options (``{"kind": "regex", "pattern": "..."}``), ``figures`` the stream's
figures (``proxy.relay.figures``: ``ttft_ms``, ``total_ms``, ``tokens``, ``tokens_per_second``, …).
A score is ``{"passed": bool | None, "score": float | None, "detail": str}``; ``passed`` None means the
scorer could not say (e.g. no expected answer to compare with).

Everything here is pure and bounded, so other pages (compare's sweeps) can score with it too:
patterns and answers are cut to a length, a regular expression runs under a time limit, and a schema
is checked before use. The model judge needs a stream: ``judge_request`` builds its chat.start-shaped
prompt and ``judge`` parses the verdict from the judge's reply, which the eval runner passes in
``config["reply"]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypedDict

import jsonschema
import regex

from playground.prompts.template import MissingVariables, render


class Score(TypedDict):
    passed: bool | None
    score: float | None
    detail: str


Scorer = Callable[[str, "str | None", dict[str, Any], dict[str, Any]], Score]

MAX_PATTERN = 500  # characters of a regular expression
MAX_SUBJECT = 100_000  # characters of an answer a pattern or a JSON parse looks at
REGEX_TIMEOUT = 0.05  # seconds one regular expression may take on one answer
MAX_SCHEMA = 20_000  # characters of a JSON schema
KINDS = ("exact", "contains", "regex", "json", "json_schema", "latency", "judge")
LABELS = {
    "exact": "Exact match",
    "contains": "Contains",
    "regex": "Regular expression",
    "json": "Valid JSON",
    "json_schema": "Matches a JSON schema",
    "latency": "Latency under",
    "judge": "Model judge",
}
DEFAULT_JUDGE = (
    "You are grading an answer.\n\nQuestion:\n{{question}}\n\nAnswer:\n{{answer}}\n\n"
    "Expected answer:\n{{expected}}\n\nExplain your reasoning briefly, then end with a line "
    '"VERDICT: PASS" or "VERDICT: FAIL".'
)
VERDICT = re.compile(r"verdict\s*[:=]\s*\**\s*(pass|fail|yes|no|correct|incorrect)\b", re.I)
SCORE_LINE = re.compile(r"score\s*[:=]\s*([01](?:\.\d+)?)\b", re.I)


class ScorerError(ValueError):
    """A scorer's options are wrong (said to the user before anything runs)."""


def _score(passed: bool | None, detail: str, score: float | None = None) -> Score:
    if score is None and passed is not None:
        score = 1.0 if passed else 0.0
    return {"passed": passed, "score": score, "detail": detail}


def _norm(text: str, config: dict[str, Any]) -> str:
    text = text.strip()
    if not config.get("case_sensitive"):
        text = text.casefold()
    return " ".join(text.split()) if config.get("collapse_spaces", True) else text


def exact(answer: str, expected: str | None, config: dict[str, Any], figures: dict[str, Any]) -> Score:
    """The answer equals the expected answer (trimmed; case and runs of spaces ignored unless asked)."""
    if expected is None:
        return _score(None, "no expected answer")
    same = _norm(answer, config) == _norm(expected, config)
    return _score(same, "equal" if same else "differs from the expected answer")


def contains(answer: str, expected: str | None, config: dict[str, Any], figures: dict[str, Any]) -> Score:
    """The answer contains ``config["text"]`` (else the expected answer)."""
    needle = config.get("text") or expected
    if not needle:
        return _score(None, "nothing to look for")
    found = _norm(needle, config) in _norm(answer, config)
    return _score(found, f"{'contains' if found else 'does not contain'} {needle[:80]!r}")


def compile_pattern(pattern: Any, *, ignore_case: bool = False) -> Any:
    """The compiled pattern, or ScorerError naming what is wrong (too long, or not a valid expression)."""
    if not isinstance(pattern, str) or not pattern:
        raise ScorerError("The regular expression is empty.")
    if len(pattern) > MAX_PATTERN:
        raise ScorerError(
            f"The regular expression is {len(pattern)} characters long; the limit is {MAX_PATTERN}."
        )
    try:
        return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except regex.error as exc:
        raise ScorerError(f"The regular expression does not compile: {exc}.") from None


def regex_match(answer: str, expected: str | None, config: dict[str, Any], figures: dict[str, Any]) -> Score:
    """``config["pattern"]`` is found in the answer (``regex`` with a time limit: a catastrophic pattern
    fails the cell with a clear detail instead of hanging the server)."""
    try:
        compiled = compile_pattern(config.get("pattern"), ignore_case=bool(config.get("ignore_case")))
        found = compiled.search(answer[:MAX_SUBJECT], timeout=REGEX_TIMEOUT)
    except ScorerError as exc:
        return _score(False, str(exc))
    except TimeoutError:
        return _score(False, f"the pattern took longer than {REGEX_TIMEOUT * 1000:.0f} ms on this answer")
    if found is None:
        return _score(False, "no match")
    return _score(True, f"matched {found.group(0)[:80]!r}")


def _json_of(answer: str) -> Any:
    text = answer.strip()[:MAX_SUBJECT]
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.S)
    return json.loads(fenced.group(1) if fenced else text)


def valid_json(answer: str, expected: str | None, config: dict[str, Any], figures: dict[str, Any]) -> Score:
    """The answer is JSON (alone, or alone in a fenced block)."""
    try:
        value = _json_of(answer)
    except (ValueError, RecursionError) as exc:
        return _score(False, f"not JSON: {str(exc)[:120]}")
    return _score(True, f"JSON {type(value).__name__}")


def check_schema(schema: Any) -> dict[str, Any]:
    """The schema (an object, or its JSON text) checked against its metaschema; ScorerError if wrong."""
    if isinstance(schema, str):
        if len(schema) > MAX_SCHEMA:
            raise ScorerError(f"The JSON schema is {len(schema)} characters long; the limit is {MAX_SCHEMA}.")
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise ScorerError(f"The JSON schema is not JSON: {exc}.") from None
    if not isinstance(schema, dict):
        raise ScorerError("The JSON schema must be an object.")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ScorerError(f"The JSON schema is not valid: {exc.message}.") from None
    return schema


def json_schema(answer: str, expected: str | None, config: dict[str, Any], figures: dict[str, Any]) -> Score:
    """The answer is JSON that ``config["schema"]`` accepts (the first error is the detail)."""
    try:
        schema = check_schema(config.get("schema"))
    except ScorerError as exc:
        return _score(False, str(exc))
    try:
        value = _json_of(answer)
    except (ValueError, RecursionError) as exc:
        return _score(False, f"not JSON: {str(exc)[:120]}")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the value"
        return _score(False, f"{where}: {error.message[:160]}")
    return _score(True, "matches the schema")


def latency(answer: str, expected: str | None, config: dict[str, Any], figures: dict[str, Any]) -> Score:
    """``figures[config["figure"]]`` (``ttft_ms`` unless said, or ``total_ms``) is under ``config["ms"]``."""
    figure = config.get("figure") or "ttft_ms"
    limit = config.get("ms")
    value = figures.get(figure)
    if not isinstance(limit, int | float) or isinstance(limit, bool):
        return _score(False, "no threshold set")
    if not isinstance(value, int | float):
        return _score(False, f"no {figure} (the stream sent no text)")
    under = value < limit
    return _score(under, f"{figure} {value:.0f} ms {'<' if under else '≥'} {limit:g} ms")


def judge_request(
    config: dict[str, Any], *, question: str, answer: str, expected: str | None
) -> dict[str, Any]:
    """The judge's chat.start-shaped prompt: its template filled with the question, answer and expected."""
    template = config.get("prompt") or DEFAULT_JUDGE
    try:
        text = render(template, {"question": question, "answer": answer, "expected": expected or "(none)"})
    except MissingVariables as exc:  # the judge prompt names another variable
        raise ScorerError(
            f"The judge prompt may use only {{{{question}}}}, {{{{answer}}}} and {{{{expected}}}}: {exc}"
        ) from None
    return {
        "mode": "chat",
        "model": config.get("model") or "",
        "messages": [{"role": "user", "content": text}],
        "params": {"temperature": 0, "max_tokens": int(config.get("max_tokens") or 400)},
    }


def judge(answer: str, expected: str | None, config: dict[str, Any], figures: dict[str, Any]) -> Score:
    """The judge's verdict, parsed from its reply (``config["reply"]``): the last "VERDICT: PASS/FAIL"
    line (yes/no, correct/incorrect too), and a "SCORE: 0.8" line when it gives one. The reasoning (the
    whole reply) is the detail."""
    if config.get("error"):
        return _score(None, f"the judge failed: {config['error']}")
    reply = str(config.get("reply") or "")
    verdicts = VERDICT.findall(reply)
    scores = SCORE_LINE.findall(reply)
    score = float(scores[-1]) if scores else None
    if not verdicts:
        return _score(None, reply[:4000] or "the judge said nothing", score)
    passed = verdicts[-1].lower() in ("pass", "yes", "correct")
    return _score(passed, reply[:4000], score)


SCORERS: dict[str, Scorer] = {
    "exact": exact,
    "contains": contains,
    "regex": regex_match,
    "json": valid_json,
    "json_schema": json_schema,
    "latency": latency,
    "judge": judge,
}


def check_config(config: Any) -> dict[str, Any]:
    """One scorer's options, checked (a bad pattern or schema is said now, not per cell)."""
    if not isinstance(config, dict) or config.get("kind") not in SCORERS:
        raise ScorerError(f"A scorer's kind must be one of {', '.join(KINDS)}.")
    kind = config["kind"]
    if kind == "regex":
        compile_pattern(config.get("pattern"), ignore_case=bool(config.get("ignore_case")))
    elif kind == "json_schema":
        config = {**config, "schema": check_schema(config.get("schema"))}
    elif kind == "latency":
        limit = config.get("ms")
        if not isinstance(limit, int | float) or isinstance(limit, bool) or limit <= 0:
            raise ScorerError("Latency needs a threshold in milliseconds above 0.")
        if config.get("figure", "ttft_ms") not in ("ttft_ms", "total_ms"):
            raise ScorerError("Latency is measured on ttft_ms or total_ms.")
    elif kind == "judge":
        judge_request(config, question="", answer="", expected="")
    elif kind == "contains" and config.get("text") is not None and not isinstance(config["text"], str):
        raise ScorerError("Contains needs text to look for.")
    return config


def score_all(
    scorers: list[dict[str, Any]], answer: str, expected: str | None, figures: dict[str, Any]
) -> tuple[list[dict[str, Any]], bool | None]:
    """Every scorer's score of one answer, and whether all passed (None: no scorer could say)."""
    out: list[dict[str, Any]] = []
    for config in scorers:
        result = SCORERS[config["kind"]](answer, expected, config, figures)
        out.append({"kind": config["kind"], **result})
    said = [s["passed"] for s in out if s["passed"] is not None]
    return out, (all(said) if said else None)
