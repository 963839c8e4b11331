"""playground/evals/scorers.py: each scorer on answers a user would check by eye."""

from __future__ import annotations

import pytest

from playground.evals import scorers as s

F = {"ttft_ms": 120.0, "total_ms": 900.0, "tokens": 10, "tokens_per_second": 50.0}


def test_exact_ignores_case_and_spaces_unless_asked() -> None:
    assert s.exact("  Paris ", "paris", {}, F)["passed"] is True
    assert s.exact("Paris", "paris", {"case_sensitive": True}, F)["passed"] is False
    assert s.exact("Paris, France", "Paris", {}, F) == {
        "passed": False,
        "score": 0.0,
        "detail": "differs from the expected answer",
    }
    assert s.exact("Paris", None, {}, F)["passed"] is None


def test_contains_looks_for_its_text_else_the_expected_answer() -> None:
    assert s.contains("The capital is Paris.", "paris", {}, F)["passed"] is True
    assert s.contains("The capital is Lyon.", "paris", {}, F)["passed"] is False
    assert s.contains("ok zorble", None, {"text": "ZORBLE"}, F)["passed"] is True


def test_regex_matches_and_says_why_not() -> None:
    assert (
        s.regex_match("Order #1234 shipped", None, {"pattern": r"#\d{4}"}, F)["detail"] == "matched '#1234'"
    )
    assert s.regex_match("nothing", None, {"pattern": r"\d"}, F) == {
        "passed": False,
        "score": 0.0,
        "detail": "no match",
    }
    bad = s.regex_match("x", None, {"pattern": "(unclosed"}, F)
    assert bad["passed"] is False and bad["detail"].startswith("The regular expression does not compile")
    with pytest.raises(s.ScorerError, match="limit is 500"):
        s.check_config({"kind": "regex", "pattern": "a" * 501})


def test_a_catastrophic_pattern_is_cut_off_by_its_time_limit() -> None:
    result = s.regex_match("a" * 5000 + "!", None, {"pattern": r"^(\w+\s?)*$"}, F)
    assert result["passed"] is False
    assert "longer than 50 ms" in result["detail"]


def test_valid_json_accepts_a_fenced_block_and_names_the_error() -> None:
    assert s.valid_json('```json\n{"a": 1}\n```', None, {}, F)["passed"] is True
    result = s.valid_json("{'a': 1}", None, {}, F)
    assert result["passed"] is False and result["detail"].startswith("not JSON: Expecting property name")


def test_json_schema_checks_the_answer_and_the_schema() -> None:
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    assert s.json_schema('{"city": "Paris"}', None, {"schema": schema}, F)["passed"] is True
    result = s.json_schema('{"city": 3}', None, {"schema": schema}, F)
    assert result == {"passed": False, "score": 0.0, "detail": "city: 3 is not of type 'string'"}
    with pytest.raises(s.ScorerError, match="not valid"):
        s.check_config({"kind": "json_schema", "schema": {"type": "nope"}})


def test_latency_under_a_threshold_on_ttft_or_total() -> None:
    assert s.latency("", None, {"ms": 200}, F)["detail"] == "ttft_ms 120 ms < 200 ms"
    assert s.latency("", None, {"ms": 500, "figure": "total_ms"}, F)["passed"] is False
    assert s.latency("", None, {"ms": 200}, {"ttft_ms": None})["passed"] is False
    with pytest.raises(s.ScorerError):
        s.check_config({"kind": "latency", "ms": 0})


def test_the_judge_prompt_is_filled_and_its_verdict_parsed_with_the_reasoning_kept() -> None:
    request = s.judge_request({"model": "m"}, question="2+2?", answer="4", expected="4")
    text = request["messages"][0]["content"]
    assert "Question:\n2+2?" in text and "Answer:\n4" in text and "Expected answer:\n4" in text
    reply = "The answer matches the expected one.\nSCORE: 0.9\nVERDICT: PASS"
    assert s.judge("4", "4", {"reply": reply}, F) == {"passed": True, "score": 0.9, "detail": reply}
    assert s.judge("5", "4", {"reply": "Wrong.\nVerdict: fail"}, F)["passed"] is False
    assert s.judge("5", "4", {"reply": "I am not sure."}, F)["passed"] is None
    with pytest.raises(s.ScorerError, match="only"):
        s.check_config({"kind": "judge", "prompt": "Grade {{answer}} for {{topic}}"})


def test_score_all_passes_only_when_every_scorer_that_could_say_passed() -> None:
    scores, passed = s.score_all([{"kind": "contains", "text": "a"}, {"kind": "exact"}], "abc", None, F)
    assert [x["passed"] for x in scores] == [True, None] and passed is True
    assert s.score_all([], "x", None, F) == ([], None)
