"""The parameter registry on its own (playground/params.py): ranges, cleaning, modes, what is sent."""

from __future__ import annotations

import math
from typing import Any

import pytest

from playground.params import (
    PARAMS,
    PARAMS_BY_NAME,
    SAMPLING_OPTION_DEFAULTS,
    ParamError,
    registry_json,
    sampling_options_for,
    to_request_fields,
    validate,
    validate_value,
)


def test_every_parameter_is_named_once_and_its_default_is_in_range() -> None:
    assert len(PARAMS_BY_NAME) == len(PARAMS)
    for p in PARAMS:
        assert p.help and p.group and p.modes
        if p.kind in ("float", "int") and p.default is not None:
            assert p.minimum is None or p.default >= p.minimum, p.name
            assert p.maximum is None or p.default <= p.maximum, p.name
        if p.kind == "choice":
            assert p.default is None or p.default in p.choices, p.name


def test_numbers_are_cleaned_and_kept_in_range() -> None:
    assert validate({"temperature": "0.5", "top_k": 40.0, "max_tokens": 7}) == {
        "temperature": 0.5,
        "top_k": 40,
        "max_tokens": 7,
    }
    assert isinstance(validate_value("temperature", 1), float)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("temperature", 2.5, "between 0 and 2"),
        ("temperature", -0.1, "between 0 and 2"),
        ("temperature", True, "between 0 and 2"),
        ("temperature", "warm", "a number between 0 and 2"),
        ("temperature", math.nan, "a number"),
        ("temperature", math.inf, "a number"),
        ("top_k", 2.5, "a whole number"),
        ("max_tokens", 0, "between 1 and"),
        ("reasoning_effort", "max", "one of none, low, medium, high"),
        ("logprobs", "yes", "true or false"),
        ("stop", ["a", "b", "c", "d", "e"], "up to 4 strings"),
        ("stop", [""], "up to 4 strings"),
        ("logit_bias", {"abc": 1}, "token ids"),
        ("logit_bias", {"12": 101}, "between -100 and 100"),
        ("logit_bias", "{not json", "not valid JSON"),
        ("response_format", "yaml", "text, json_object or json_schema"),
        ("response_format", {"type": "json_schema", "json_schema": {}}, "JSON schema object"),
    ],
)
def test_a_refused_value_names_the_parameter_and_its_range(name: str, value: Any, words: str) -> None:
    with pytest.raises(ParamError) as info:
        validate({name: value})
    assert info.value.param == name
    assert words in info.value.message


def test_unset_values_are_not_sent_but_unknown_names_are_refused() -> None:
    assert validate({"temperature": None, "seed": "", "top_p": 0.9}) == {"top_p": 0.9}
    with pytest.raises(ParamError) as info:
        validate({"temprature": None})
    assert info.value.param == "temprature" and "extra" in info.value.message
    with pytest.raises(ParamError):
        validate(["temperature"])  # type: ignore[arg-type]


def test_top_logprobs_needs_logprobs() -> None:
    with pytest.raises(ParamError) as info:
        validate({"top_logprobs": 3})
    assert info.value.param == "top_logprobs"
    assert validate({"top_logprobs": 3, "logprobs": "true"}) == {"top_logprobs": 3, "logprobs": True}


def test_each_mode_takes_only_its_parameters() -> None:
    assert validate({"store": False}, mode="responses") == {"store": False}
    for name, value, mode in [
        ("store", True, "chat"),
        ("top_k", 5, "responses"),
        ("raw_output", True, "completions"),
    ]:
        with pytest.raises(ParamError) as info:
            validate({name: value}, mode=mode)  # type: ignore[arg-type]
        assert info.value.param == name and f"not available in {mode} mode" in info.value.message


def test_structured_values_come_out_in_the_shape_the_api_takes() -> None:
    assert validate_value("stop", "END") == ["END"]
    assert validate_value("logit_bias", '{"12": -5}') == {"12": -5}
    assert validate_value("response_format", "json_object") == {"type": "json_object"}
    schema = {"type": "object", "properties": {}}
    assert validate_value("response_format", {"type": "json_schema", "json_schema": {"schema": schema}}) == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }


def test_include_usage_goes_into_stream_options() -> None:
    assert to_request_fields({"include_usage": True, "temperature": 0.2}) == {
        "temperature": 0.2,
        "stream_options": {"include_usage": True},
    }
    assert to_request_fields({"seed": 1}) == {"seed": 1}


def test_sampling_options_are_the_defaults_with_the_request_on_top() -> None:
    assert sampling_options_for({}) == SAMPLING_OPTION_DEFAULTS
    applied = sampling_options_for({"temperature": 0, "max_completion_tokens": 9, "mirostat_target": 3})
    assert applied["temperature"] == 0.0 and isinstance(applied["temperature"], float)
    assert applied["max_tokens"] == 9 and applied["mirostat_target"] == 3.0
    assert list(applied) == list(SAMPLING_OPTION_DEFAULTS)


def test_registry_json_carries_each_parameter_with_its_range_in_words() -> None:
    rows = {row["name"]: row for row in registry_json()}
    assert list(rows) == [p.name for p in PARAMS]
    assert rows["temperature"]["range"] == "between 0 and 2"
    assert rows["reasoning_effort"]["range"] == "one of none, low, medium, high"
    assert rows["store"]["modes"] == ("responses",)
