"""Code export for the Responses API: client.responses.create with the same body, and curl to /responses."""

from __future__ import annotations

import json

from playground import codegen

BODY = {
    "model": "m",
    "input": [{"role": "user", "content": "hi"}],
    "previous_response_id": "resp_1",
    "stream": True,
}


def test_responses_snippets_compile_and_send_the_body() -> None:
    out = codegen.snippets(BODY, endpoint="responses", base_url="https://api.fireworks.ai/inference/v1")
    for key in ("python_openai", "python_fireworks"):
        compile(out[key], key, "exec")
        assert "client.responses.create(" in out[key] and "previous_response_id=" in out[key]
        assert "extra_body" not in out[key]
    assert "no Responses API client" in out["python_fireworks"]
    assert (
        "client.responses.create(" in out["javascript"] and "response.output_text.delta" in out["javascript"]
    )
    assert '/responses"' in out["curl"]
    assert json.loads(out["curl"].split("<<'JSON'\n")[1].split("\nJSON\n")[0]) == BODY
