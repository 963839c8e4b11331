"""playground/evals/testsets.py: CSV and JSONL in, checked line by line, and out again."""

from __future__ import annotations

import pytest

from playground.evals import testsets as t


def test_csv_round_trips_with_quotes_commas_newlines_and_no_expected() -> None:
    variables = ["question", "style"]
    rows = [
        {"values": {"question": 'Say "hi", twice', "style": "short"}, "expected": "hi hi"},
        {"values": {"question": "line one\nline two", "style": ""}, "expected": None},
    ]
    text = t.to_csv(variables, rows)
    assert text.splitlines()[0] == "question,style,expected"
    assert t.parse_csv(text) == (variables, rows)
    assert t.parse_jsonl(t.to_jsonl(variables, rows)) == (variables, rows)


def test_a_bad_csv_names_every_bad_line_and_imports_nothing() -> None:
    with pytest.raises(t.TableError) as caught:
        t.parse_csv("question,expected\nfine,ok\ntoo,many,fields\nalso,bad,here,x\n")
    assert caught.value.errors == [
        "line 3: 3 fields, the header has 2.",
        "line 4: 4 fields, the header has 2.",
    ]
    with pytest.raises(t.TableError, match="not a variable name"):
        t.parse_csv("1st,expected\nx,y\n")


def test_jsonl_errors_per_line() -> None:
    with pytest.raises(t.TableError) as caught:
        t.parse_jsonl('{"q": "a"}\nnot json\n[1]\n{"q": {"nested": 1}}\n')
    assert caught.value.errors[0].startswith("line 2: not JSON")
    assert caught.value.errors[1] == "line 3: must be a JSON object, not list."
    assert caught.value.errors[2] == "line 4, q must be text (or a number), not dict."


def test_bounds_on_rows_and_values() -> None:
    with pytest.raises(t.TableError, match="limit is 5000"):
        t.parse_csv("q\n" + "x\n" * 5002)
    with pytest.raises(t.TableError, match="limit is 20000"):
        t.check_rows(["q"], [{"values": {"q": "x" * 20_001}}])
    assert t.parse("q\nx\n", filename="a.csv") == (["q"], [{"values": {"q": "x"}, "expected": None}])
    assert t.parse('{"q": 1}', filename="rows.jsonl") == (["q"], [{"values": {"q": "1"}, "expected": None}])
