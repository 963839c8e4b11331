"""playground/prompts/template.py, and its page twin static/playground/core/variables.js on the same cases."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from playground.prompts.template import (
    InvalidValue,
    MissingVariables,
    render,
    render_start,
    start_variables,
    value_error,
    variables_in,
)

CASES_FILE = Path(__file__).with_name("template_cases.json")
CASES = json.loads(CASES_FILE.read_text())
VARIABLES_JS = Path(__file__).parents[3] / "static" / "playground" / "core" / "variables.js"


def _python_outcome(case: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "text" in case:
        out["variables"] = variables_in(case["text"])
        call = lambda: render(case["text"], case["values"])  # noqa: E731
    else:
        out["variables"] = start_variables(case["start"])
        call = lambda: render_start(case["start"], case["values"])  # noqa: E731
    try:
        out["rendered"] = call()
    except MissingVariables as exc:
        out["missing"] = exc.names
    except InvalidValue as exc:
        out["invalid"] = exc.name
    return out


def _expected(case: dict[str, Any]) -> dict[str, Any]:
    return {k: case[k] for k in ("variables", "rendered", "missing", "invalid") if k in case}


@pytest.mark.parametrize("case", CASES["text"] + CASES["start"], ids=lambda c: c["name"])
def test_python_meets_the_shared_cases(case: dict[str, Any]) -> None:
    assert _python_outcome(case) == _expected(case)


@pytest.mark.parametrize("case", CASES["values"], ids=lambda c: c["name"])
def test_python_checks_values_as_the_shared_cases_say(case: dict[str, Any]) -> None:
    assert value_error(case["definition"], case["value"]) == case["error"]


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_page_twin_meets_the_same_cases() -> None:
    """variables.js run by node on the same JSON gives the same names, texts and errors for every case."""
    script = f"""
import {{ readFileSync }} from "node:fs";
import * as v from {json.dumps(VARIABLES_JS.as_uri())};
const cases = JSON.parse(readFileSync({json.dumps(str(CASES_FILE))}, "utf8"));
const out = [...cases.text, ...cases.start].map((c) => {{
  const r = {{}};
  const isText = "text" in c;
  r.variables = isText ? v.variablesIn(c.text) : v.startVariables(c.start);
  try {{ r.rendered = isText ? v.render(c.text, c.values) : v.renderStart(c.start, c.values); }}
  catch (e) {{
    if (e instanceof v.MissingVariables) r.missing = e.names;
    else if (e instanceof v.InvalidValue) r.invalid = e.variable;
    else throw e;
  }}
  return r;
}});
const values = cases.values.map((c) => v.valueError(c.definition, c.value));
process.stdout.write(JSON.stringify({{ out, values }}));
"""
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30, check=True
    )
    answer = json.loads(result.stdout)
    assert answer["values"] == [case["error"] for case in CASES["values"]]
    got = answer["out"]
    cases = CASES["text"] + CASES["start"]
    assert len(got) == len(cases)
    for case, outcome in zip(cases, got, strict=True):
        assert outcome == _expected(case), case["name"]


def test_missing_message_names_every_variable() -> None:
    with pytest.raises(MissingVariables) as info:
        render("{{ topic }} for {{audience}}", {})
    assert str(info.value) == "Missing values for variables: topic, audience."
    assert isinstance(info.value, ValueError)
    with pytest.raises(MissingVariables, match=r"^Missing value for variable: topic\.$"):
        render("{{topic}}", {"other": "x"})


def test_render_start_does_not_change_its_input() -> None:
    start = {
        "system": "{{a}}",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "{{a}}"}]}],
    }
    before = json.loads(json.dumps(start))
    filled = render_start(start, {"a": "x"})
    assert start == before
    assert filled["system"] == "x" and filled["messages"][0]["content"][0]["text"] == "x"


def test_missing_is_reported_before_anything_is_filled() -> None:
    start = {"system": "{{a}}", "messages": [{"role": "user", "content": "{{b}}"}]}
    with pytest.raises(MissingVariables) as info:
        render_start(start, {"a": "x"})
    assert info.value.names == ["b"]
    assert start["system"] == "{{a}}"
