"""The emulator's synthetic output: token counting, deterministic replies, logprobs, JSON and tool calls.

Pure functions of the request and a seed, no I/O. Every reply is obviously synthetic: it opens with the
single token ``[offline emulator]`` and continues in Markdown (prose, a list, a table, code or math, picked
by a word of the prompt or by the seed) whose sentences are grammatical but about made-up things, so it
can never pass for a real model's answer.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from playground.content import content_text

PREFIX = "[offline emulator]"
REASONING_PREFIX = "[emulated reasoning]"
# A made-up vocabulary with multi-byte characters, so that split writes land inside UTF-8 sequences.
VOCAB = tuple(
    "lorem ipsum dolor synthetic token stream emulated sample placeholder café naïve déjà vu "  # noqa: SIM905
    "façade jalapeño über résumé alpha beta gamma delta kappa sigma omega quux frobnicate widget "
    "gizmo blorp zorble plumbus fnord".split()
)
PUNCTUATION = (",", ".", " —", ";", " →", " ✓", " 🌱")
REASONING_VOCAB = ("hmm", "considering", "weighing", "the", "emulated", "options", "carefully", "deciding")
TOKEN_RE = re.compile(r"\s?\w+|\s?[^\w\s]|\s+")
VOCAB_SIZE = 128_256


def tokenize(text: str) -> list[str]:
    """Split text into word-ish tokens whose concatenation is the text again."""
    return TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens the emulator counts for ``text``."""
    return len(tokenize(text))


def token_id(token: str) -> int:
    """A stable made-up token id."""
    return zlib.crc32(token.encode()) % VOCAB_SIZE


def chat_prompt_tokens(messages: list[dict[str, Any]], tools: Any = None) -> int:
    """Prompt tokens of a chat request: a Llama-3-like template (``Hi`` alone counts 12, as recorded)."""
    total = 7
    for message in messages:
        total += 4 + count_tokens(content_text(message.get("content")))
        if isinstance(message.get("content"), list):
            total += 256 * sum(
                1 for p in message["content"] if isinstance(p, dict) and p.get("type") != "text"
            )
    if tools:
        total += count_tokens(json.dumps(tools))
    return total


def completion_prompt_tokens(prompt: str) -> int:
    """Prompt tokens of a completions request: BOS plus the text (``Hi`` counts 2, as recorded)."""
    return 1 + count_tokens(prompt)


def make_rng(*parts: Any) -> random.Random:
    """A random generator seeded from a stable digest of ``parts``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class Piece:
    """One generated token: its kind (reasoning, content or tool) and text, with logprob data."""

    kind: str
    text: str
    logprob: float = 0.0
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    call: int = 0  # which tool call a tool piece belongs to (parallel tool calls)
    cost: float = 1.0  # in token times: a predicted token that matched is checked, not generated


@dataclass
class ToolCall:
    """A tool call the emulator decided to make."""

    id: str
    name: str
    arguments: str


@dataclass
class ChoicePlan:
    """Everything one choice will emit, in order, and how it ends."""

    pieces: list[Piece]
    finish_reason: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    # (predicted tokens, of which matched) when the request carried a ``prediction``
    speculation: tuple[int, int] | None = None

    @property
    def tool_call(self) -> ToolCall | None:
        """The first tool call, if any."""
        return self.tool_calls[0] if self.tool_calls else None

    @property
    def duration(self) -> float:
        """How many token times the choice takes (accepted predicted tokens are faster)."""
        return sum(p.cost for p in self.pieces)

    @property
    def content(self) -> str:
        """The answer text."""
        return "".join(p.text for p in self.pieces if p.kind == "content")

    @property
    def reasoning(self) -> str:
        """The reasoning text."""
        return "".join(p.text for p in self.pieces if p.kind == "reasoning")

    @property
    def completion_tokens(self) -> int:
        """Tokens generated, reasoning and tool-call arguments included."""
        return len(self.pieces)


def sample_value(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A value that fits a JSON schema well enough: every property present, types respected."""
    if not isinstance(schema, dict) or depth > 5:
        return "emulated"
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return sample_value(schema[key][0], rng, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props: dict[str, Any] = schema["properties"] if isinstance(schema.get("properties"), dict) else {}
        value = {name: sample_value(sub, rng, depth + 1) for name, sub in props.items()}
        for name in schema.get("required") or []:
            value.setdefault(str(name), "emulated")
        return value
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), rng.randint(1, 3))
        return [sample_value(schema.get("items"), rng, depth + 1) for _ in range(count)]
    if kind == "integer":
        return rng.randint(int(schema.get("minimum", 0)), int(schema.get("maximum", 100)))
    if kind == "number":
        return round(rng.uniform(float(schema.get("minimum", 0)), float(schema.get("maximum", 100))), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return "emulated " + rng.choice(VOCAB)


def _words(rng: random.Random, count: int) -> list[str]:
    out: list[str] = []
    since = 0
    for _ in range(count):
        if since >= 5 and rng.random() < 0.25:
            out.append(rng.choice(PUNCTUATION))
            since = 0
        else:
            out.append(" " + rng.choice(VOCAB))
            since += 1
    return out


# The reply's Markdown shape: a word in the last user message picks it, else the seeded generator does.
SHAPES = ("prose", "list", "table", "code", "math")
SHAPE_WORDS = (
    ("table", re.compile(r"\b(table|tables|compare|comparison|versus|vs)\b", re.I)),
    ("code", re.compile(r"\b(code|python|function|script|program|snippet|regex|sql)\b", re.I)),
    ("math", re.compile(r"\b(math|equation|equations|formula|integral|sum|proof|latex)\b", re.I)),
    ("list", re.compile(r"\b(list|steps|ideas|tips|options|ways|bullet|bullets)\b", re.I)),
    ("prose", re.compile(r"\b(explain|story|describe|essay|paragraph|why)\b", re.I)),
)
# Synthetic but grammatical: made-up nouns in ordinary sentences (multi-byte characters included, so that
# split writes land inside UTF-8 sequences).
NOUNS = (
    "widget",
    "gizmo",
    "zorble",
    "plumbus",
    "frobnicator",
    "token stream",
    "placeholder",
    "façade",
    "résumé",
    "jalapeño",
    "café",
    "sprocket",
    "blorp",
    "sample",
)
ADJECTIVES = ("synthetic", "emulated", "naïve", "steady", "quiet", "tidy", "patient", "curious", "déjà-vu")
VERBS = ("keeps", "checks", "folds", "sorts", "warms", "trims", "balances", "measures")
SENTENCES = (
    "The {adj} {noun} {verb} the {noun2} first.",
    "A {noun} works best when the {noun2} stays small and predictable.",
    "Most people start with the {noun}, then add {a_adj} {noun2} once it settles.",
    "In practice, the {noun2} {verb} the {noun} — and that is usually enough.",
    "If the {noun} grows too quickly, {a_adj} {noun2} brings it back in line.",
    "Nothing here is real: the {noun} and the {noun2} are made up 🌱.",
    "The short answer: {a_adj} {noun} {verb} every {noun2} it meets.",
    "Think of the {noun} as {a_adj} {noun2} with a good memory.",
)
ITEM_NOTES = (
    "easy to start with.",
    "slower, but it keeps its shape.",
    "worth it once the rest is steady.",
    "only when you need the extra room.",
    "the *safe* default.",
    "handy for quick checks.",
)
CODE_SNIPPETS = (
    'def {fn}(items):\n    """Return the {noun}s in order."""\n    ranked = sorted(items, key=len)\n'
    '    return [item.strip() for item in ranked]\n\n\nprint({fn}([" {noun} ", "{noun2}"]))\n',
    "import json\n\n\ndef {fn}(path):\n    with open(path) as handle:\n        data = json.load(handle)\n"
    "    return {{key: value for key, value in data.items() if value}}\n",
    "class {cls}:\n    def __init__(self, size=3):\n        self.size = size\n\n    def {fn}(self, {var}):\n"
    "        return {var}[: self.size]  # keep the first few\n",
)
MATH_LINES = (
    (
        "the mean of the {noun}s",
        "\\bar{x} = \\frac{1}{n} \\sum_{i=1}^{n} x_i",
        "where $n$ counts the {noun}s and \\(x_i\\) is the size of the $i$-th one.",
    ),
    (
        "the {noun}'s growth",
        "f(t) = a \\, e^{k t}, \\quad k > 0",
        "where $a$ is the size at $t = 0$ and \\(k\\) how fast the {noun} grows.",
    ),
    (
        "the area under the {noun2}",
        "\\int_0^1 x^2 \\, dx = \\frac{1}{3}",
        "so the {noun2} covers a third of the unit square, since "
        "\\(\\tfrac{{d}}{{dx}} \\tfrac{{x^3}}{{3}} = x^2\\).",
    ),
    (
        "the spread of the {noun}s",
        "\\sigma^2 = \\frac{1}{n} \\sum_{i=1}^{n} (x_i - \\bar{x})^2",
        "where $\\bar{{x}}$ is their mean and \\(n\\) how many {noun}s there are.",
    ),
)


def _sentence(rng: random.Random) -> str:
    noun, noun2 = rng.sample(NOUNS, 2)
    adjective = rng.choice(ADJECTIVES)
    return rng.choice(SENTENCES).format(
        noun=noun, noun2=noun2, adj=adjective, a_adj=_a(adjective), verb=rng.choice(VERBS)
    )


def _a(word: str) -> str:
    """The word with its indefinite article."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _title(text: str) -> str:
    return text[:1].upper() + text[1:]


def reply_shape(rng: random.Random, last_user: str) -> str:
    """Which Markdown shape a reply takes: named by a word in the message, else chosen by the seed."""
    for shape, words in SHAPE_WORDS:
        if words.search(last_user):
            return shape
    return rng.choice(SHAPES)


def markdown_reply(rng: random.Random, last_user: str) -> str:
    """A synthetic reply in Markdown (after the prefix): prose, a list, a table, code or math."""
    said = " ".join(last_user.split())
    words = said.split(" ")
    quoted = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    lead = f" You said: “{quoted}”." if said else ""
    shape = reply_shape(rng, last_user)
    noun, noun2 = rng.sample(NOUNS, 2)
    adjective = rng.choice(ADJECTIVES)
    parts = [lead.strip() + " " + _sentence(rng) if lead else _sentence(rng)]
    if shape == "prose":
        parts.append(f"The **{noun}** matters most. " + _paragraph(rng, rng.randint(1, 3)))
        parts.append(f"> {_sentence(rng)}")
        parts.append(_paragraph(rng, rng.randint(1, 2)))
    elif shape == "list":
        parts.append(f"### {_title(adjective)} ways to use {_a(noun)}")
        items = rng.sample(NOUNS, rng.randint(3, 4))
        numbered = rng.random() < 0.5
        parts.append(
            "\n".join(
                f"{f'{i}.' if numbered else '-'} **{_title(item)}**: {rng.choice(ITEM_NOTES)}"
                for i, item in enumerate(items, 1)
            )
        )
        parts.append(f"Start with the *{items[0]}*; the rest can wait.")
    elif shape == "table":
        parts.append(f"Here is how the {noun} compares with the {noun2}:")
        rows = rng.sample(NOUNS, rng.randint(2, 4))
        lines = ["| Item | Size | Speed | Notes |", "| --- | ---: | ---: | --- |"]
        for row in rows:
            size, speed, note = rng.randint(2, 99), rng.randint(10, 400), _title(rng.choice(ADJECTIVES))
            lines.append(f"| {_title(row)} | {size} | {speed} ms | {note} |")
        parts.append("\n".join(lines))
        parts.append(f"The *{rows[0]}* is the {rng.choice(ADJECTIVES)} choice here.")
    elif shape == "code":
        fn = rng.choice(("rank", "load", "tidy", "collect"))
        snippet = rng.choice(CODE_SNIPPETS).format(
            fn=fn, noun=noun, noun2=noun2, cls=_title(noun.replace(" ", "").replace("é", "e")), var="items"
        )
        parts.append(f"A small example in Python, with the {noun} as the input:")
        parts.append(f"```python\n{snippet}```")
        parts.append(f"Call `{fn}()` with your own {noun2}s to try it.")
    else:
        label, formula, where = rng.choice(MATH_LINES)
        parts.append(f"For {label.format(noun=noun, noun2=noun2)}, the usual formula is")
        parts.append(f"$$\n{formula}\n$$")
        parts.append(where.format(noun=noun, noun2=noun2))
    return " " + "\n\n".join(parts)


def _reply_tokens(rng: random.Random, last_user: str) -> list[str]:
    return [PREFIX, *tokenize(markdown_reply(rng, last_user))]


def _json_tokens(request: dict[str, Any], rng: random.Random) -> list[str]:
    fmt = request.get("response_format") or {}
    schema = None
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        schema = fmt["json_schema"].get("schema")
    elif isinstance(fmt.get("schema"), dict):
        schema = fmt["schema"]
    if isinstance(schema, dict):
        value = sample_value(schema, rng)
    else:
        value = {
            "emulator": "offline",
            "note": "synthetic JSON",
            "words": [rng.choice(VOCAB) for _ in range(3)],
        }
    return tokenize(json.dumps(value, ensure_ascii=False))


def _choose_tools(request: dict[str, Any], last_user: str) -> list[dict[str, Any]]:
    """The functions to call: every tool the message names when parallel calls are allowed, else one."""
    first = _choose_tool(request, last_user)
    if (
        first is None
        or request.get("parallel_tool_calls") is False
        or isinstance(request.get("tool_choice"), dict)
    ):
        return [first] if first else []
    text = last_user.lower()
    named = [
        t["function"]
        for t in request.get("tools") or []
        if isinstance(t, dict)
        and isinstance(t.get("function"), dict)
        and str(t["function"].get("name", "")).lower() in text
    ]
    return named if len(named) > 1 else [first]


def _tool_answer(request: dict[str, Any], rng: random.Random) -> list[str] | None:
    """After tool results (the last message has role tool): a reply that uses them, else None."""
    messages = request.get("messages") or []
    results: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, message)
    if not results:
        return None
    names: dict[Any, Any] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[call.get("id")] = call["function"].get("name")
    lead = [PREFIX]
    for message in results:
        name = names.get(message.get("tool_call_id")) or "the tool"
        said = tokenize(" ".join(content_text(message.get("content")).split()))[:24]
        lead += [
            " Using",
            " the",
            " result",
            " of",
            f" {name}",
            ":",
            " “",
            *[t.lstrip() if i == 0 else t for i, t in enumerate(said)],
            "”",
            ".",
        ]
    return lead + _words(rng, rng.randint(6, 20)) + ["."]


FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.S)


def _edit_tokens(request: dict[str, Any], last_user: str, rng: random.Random) -> list[str] | None:
    """An edit-style reply: the fenced block of the message (else the prediction) with a few words changed."""
    fenced = FENCE.search(last_user)
    prediction = request.get("prediction")
    predicted = prediction.get("content") if isinstance(prediction, dict) else None
    if isinstance(predicted, list):  # content parts
        predicted = content_text(predicted)
    source = fenced.group(1) if fenced else predicted if isinstance(predicted, str) and predicted else None
    if source is None:
        return None
    edited = [
        " " + rng.choice(VOCAB) if t.strip() and t.strip()[0].isalpha() and rng.random() < 0.12 else t
        for t in tokenize(source)
    ]
    return [PREFIX, "\n", *edited]


def _speculate(pieces: list[Piece], request: dict[str, Any]) -> tuple[int, int] | None:
    """Mark the content tokens that match the prediction (copied spans) as cheap; (predicted, matched)."""
    prediction = request.get("prediction")
    predicted = prediction.get("content") if isinstance(prediction, dict) else None
    if isinstance(predicted, list):
        predicted = content_text(predicted)
    if not isinstance(predicted, str) or not predicted:
        return None
    guess = tokenize(predicted)
    content = [p for p in pieces if p.kind == "content"]
    matcher = difflib.SequenceMatcher(a=guess, b=[p.text for p in content], autojunk=False)
    matched = 0
    for block in matcher.get_matching_blocks():
        matched += block.size
        for piece in content[block.b : block.b + block.size]:
            piece.cost = 0.2
    return len(guess), matched


def _choose_tool(request: dict[str, Any], last_user: str) -> dict[str, Any] | None:
    """The function to call, or None when the request does not ask for a tool call."""
    tools: list[dict[str, Any]] = [
        t["function"]
        for t in request.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    choice = request.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    messages = request.get("messages") or []
    if choice == "auto" and messages and messages[-1].get("role") == "tool":
        return None  # the tool answered: now the model answers the user
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        return next((t for t in tools if t.get("name") == wanted), tools[0])
    text = last_user.lower()
    mentioned = next((t for t in tools if str(t.get("name", "")).lower() in text), None)
    if choice in ("required", "any"):
        return mentioned or tools[0]
    if mentioned or re.search(r"\b(tool|tools|function|call)\b", text):
        return mentioned or tools[0]
    return None


def _reasoning_length(request: dict[str, Any], reasoning_model: bool, rng: random.Random) -> int:
    effort = request.get("reasoning_effort")
    thinking = request.get("thinking")
    if effort in (None, False) and isinstance(thinking, dict) and thinking.get("type") == "enabled":
        effort = "medium"
    if effort is None and reasoning_model:
        effort = "medium"
    if effort in (None, "none", False, 0):
        return 0
    if isinstance(effort, int) and not isinstance(effort, bool):
        return max(1, min(effort, 80))
    low, high = {"low": (8, 16), "high": (40, 80)}.get(str(effort), (16, 40))
    return rng.randint(low, high)


def _with_logprobs(kind: str, text: str, rng: random.Random, alternatives: int) -> Piece:
    logprob = -round(rng.expovariate(5.0), 4)
    alts = [(text, logprob)]
    for word in rng.sample(VOCAB, min(alternatives, len(VOCAB))):
        if len(alts) >= alternatives:
            break
        if " " + word != text:
            alts.append((" " + word, round(alts[-1][1] - rng.uniform(0.5, 3.0), 4)))
    return Piece(kind, text, logprob, alts[:alternatives])


def plan_choice(
    request: dict[str, Any],
    *,
    mode: str,
    reasoning_model: bool,
    seed: int,
    index: int,
    max_tokens: int,
    content: str | None = None,
) -> ChoicePlan:
    """Decide one choice's output: deterministic for the seed, the prompt, the model and the index.

    ``content`` (a ``reply`` fault) replaces the generated text, after the prefix and a blank line (in
    JSON mode without them).
    """
    greedy = request.get("temperature") == 0
    prompt = request.get("messages") if mode == "chat" else request.get("prompt")
    rng = make_rng(0 if greedy else seed, prompt, request.get("model"), 0 if greedy else index)
    last_user = ""
    if mode == "chat":
        users = [m for m in request.get("messages") or [] if m.get("role") == "user"]
        last_user = content_text(users[-1].get("content")) if users else ""
    else:
        last_user = prompt if isinstance(prompt, str) else ""
    logprobs = request.get("logprobs")
    alternatives = request.get("top_logprobs") or (logprobs if type(logprobs) is int else 0)

    thinking = _reasoning_length(request, reasoning_model, rng) if mode == "chat" else 0
    reasoning = (
        [REASONING_PREFIX] + [" " + rng.choice(REASONING_VOCAB) for _ in range(thinking)] if thinking else []
    )
    tools = _choose_tools(request, last_user) if mode == "chat" else []
    tool_calls = []
    for tool in tools:
        arguments = json.dumps(sample_value(tool.get("parameters") or {}, rng), ensure_ascii=False)
        tool_calls.append(ToolCall(f"call_{rng.getrandbits(96):024x}", str(tool.get("name")), arguments))
    if tool_calls:
        body = []
        kind, finish = "tool", "tool_calls"
    else:
        fmt = (request.get("response_format") or {}).get("type") if mode == "chat" else None
        json_mode = fmt in ("json_object", "json_schema")
        answer = _tool_answer(request, rng) if mode == "chat" else None
        edit = None if json_mode or answer else _edit_tokens(request, last_user, rng)
        body = _json_tokens(request, rng) if json_mode else answer or edit or _reply_tokens(rng, last_user)
        if content is not None:  # JSON mode: exactly the content, so that it can be valid JSON
            body = tokenize(content) if json_mode else [PREFIX, *tokenize("\n\n" + content)]
        if request.get("ignore_eos") and not json_mode:
            body += _words(rng, max(0, max_tokens - len(body) - len(reasoning)))
        kind, finish = "content", "stop"

    pieces = [_with_logprobs("reasoning", t, rng, 0) for t in reasoning]
    for number, call in enumerate(tool_calls):
        # The call's header (id, name) counts as one token and goes out alone, before the arguments.
        pieces.append(Piece("tool_name", call.name, call=number))
        for t in tokenize(call.arguments):
            piece = _with_logprobs("tool", t, rng, alternatives)
            piece.call = number
            pieces.append(piece)
    pieces += [_with_logprobs(kind, t, rng, alternatives) for t in body]
    stops = request.get("stop")
    stops = [stops] if isinstance(stops, str) else [s for s in stops or [] if isinstance(s, str) and s]
    if kind == "content" and stops:
        pieces, stopped = _apply_stop(pieces, stops)
        if stopped:
            finish = "stop"
    if len(pieces) > max_tokens:
        pieces, finish = pieces[:max_tokens], "length"
        if tool_calls:
            # A tool call cut by max_tokens cannot be parsed: it arrives as plain (truncated) text.
            pieces = [Piece("content", p.text) if p.kind.startswith("tool") else p for p in pieces]
            tool_calls = []
    speculation = _speculate(pieces, request) if mode == "chat" else None
    return ChoicePlan(pieces, finish, tool_calls, speculation)


def _apply_stop(pieces: list[Piece], stops: list[str]) -> tuple[list[Piece], bool]:
    """Cut the content at the first stop sequence (the stop text itself is not returned)."""
    text = "".join(p.text for p in pieces if p.kind == "content")
    hits = [text.find(s) for s in stops if s in text]
    if not hits:
        return pieces, False
    cut = min(hits)
    out: list[Piece] = []
    position = 0
    for piece in pieces:
        if piece.kind != "content":
            out.append(piece)
            continue
        if position >= cut:
            break
        keep = piece.text[: cut - position]
        position += len(piece.text)
        out.append(
            piece if keep == piece.text else Piece(piece.kind, keep, piece.logprob, piece.alternatives)
        )
    return [p for p in out if p.text], True


def chat_logprobs(pieces: list[Piece]) -> dict[str, Any]:
    """The ``logprobs: true`` format for these tokens."""
    return {
        "content": [
            {
                "token": p.text,
                "bytes": list(p.text.encode()),
                "logprob": p.logprob,
                "token_id": token_id(p.text),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "token_id": token_id(t)} for t, lp in p.alternatives
                ],
            }
            for p in pieces
        ]
    }


def legacy_logprobs(pieces: list[Piece], offset: int) -> dict[str, Any]:
    """The legacy (integer ``logprobs``) format for these tokens, text offsets starting at ``offset``."""
    offsets = []
    for p in pieces:
        offsets.append(offset)
        offset += len(p.text)
    return {
        "tokens": [p.text for p in pieces],
        "token_logprobs": [p.logprob for p in pieces],
        "top_logprobs": [dict(p.alternatives) for p in pieces],
        "text_offset": offsets,
        "token_ids": [token_id(p.text) for p in pieces],
    }
