"""A test set's table as text: CSV and JSONL in (checked line by line, all or nothing) and out again.

Pure functions, no database. A table is ``(variables, rows)``: the variable names in order, and rows
``{"values": {name: text}, "expected": text | None}``. The column (or key) ``expected`` holds the
expected answer; every other column is a variable, named as ``{{variable}}`` placeholders are
(``playground/prompts/template.py`` NAME). Exporting then importing gives the same table back.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from playground.prompts.template import NAME

EXPECTED = "expected"
MAX_ROWS = 5000
MAX_VARIABLES = 50
MAX_VALUE = 20_000  # characters in one cell
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_ERRORS = 20  # errors listed (the count says how many more)

Row = dict[str, Any]


class TableError(ValueError):
    """The text is not a table we can import; ``errors`` names each bad line (nothing was imported)."""

    def __init__(self, errors: list[str], total: int | None = None) -> None:
        self.errors = errors[:MAX_ERRORS]
        more = (total or len(errors)) - len(self.errors)
        if more > 0:
            self.errors.append(f"… and {more} more.")
        super().__init__("; ".join(self.errors))


def check_variables(names: Any) -> list[str]:
    """Variable names checked: placeholders' names, unique, not ``expected``, at most MAX_VARIABLES."""
    if not isinstance(names, list):
        raise TableError(["The variables must be a list of names."])
    errors = []
    for name in names:
        if not isinstance(name, str) or not NAME.fullmatch(name):
            errors.append(
                f"{str(name)[:40]!r} is not a variable name (letters, digits and _, not first a digit)."
            )
        elif name == EXPECTED:
            errors.append("'expected' is the expected answer's column, not a variable.")
    if len(set(names)) != len(names):
        errors.append("A variable is named twice.")
    if len(names) > MAX_VARIABLES:
        errors.append(f"{len(names)} variables; the limit is {MAX_VARIABLES}.")
    if errors:
        raise TableError(errors)
    return list(names)


def _text(value: Any, where: str, errors: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | dict | list):
        errors.append(f"{where} must be text (or a number), not {type(value).__name__}.")
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > MAX_VALUE:
        errors.append(f"{where} is {len(text)} characters long; the limit is {MAX_VALUE}.")
    return text


def check_rows(variables: list[str], rows: Any) -> list[Row]:
    """Rows as typed in the page: every value text, only known variables, bounded."""
    if not isinstance(rows, list):
        raise TableError(["The rows must be a list."])
    if len(rows) > MAX_ROWS:
        raise TableError([f"{len(rows)} rows; the limit is {MAX_ROWS}."])
    errors: list[str] = []
    out = []
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("values", {}), dict):
            errors.append(f"row {index}: must be an object with values.")
            continue
        values = row.get("values") or {}
        unknown = sorted(set(values) - set(variables))
        if unknown:
            errors.append(f"row {index}: unknown variable {unknown[0]!r}.")
        cleaned = {name: _text(values.get(name), f"row {index}, {name}", errors) or "" for name in variables}
        out.append(
            {"values": cleaned, "expected": _text(row.get(EXPECTED), f"row {index}, expected", errors)}
        )
    if errors:
        raise TableError(errors)
    return out


def _size(data: str) -> None:
    if len(data.encode()) > MAX_IMPORT_BYTES:
        raise TableError([f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB."])


def parse_csv(data: str) -> tuple[list[str], list[Row]]:
    """A CSV with a header row (a column named ``expected`` is the expected answer; an empty cell there
    is no expected answer). Every line is checked; any error and nothing is imported."""
    _size(data)
    reader = csv.reader(io.StringIO(data.lstrip("\ufeff")), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise TableError(["The file is empty: the first line must name the columns."]) from None
    except csv.Error as exc:
        raise TableError([f"line 1: {exc}"]) from None
    header = [h.strip() for h in header]
    variables = check_variables([h for h in header if h != EXPECTED])
    errors: list[str] = []
    rows: list[Row] = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines are skipped
            if len(record) != len(header):
                errors.append(f"line {line}: {len(record)} fields, the header has {len(header)}.")
                continue
            cells = dict(zip(header, record, strict=True))
            for name, cell in cells.items():
                if len(cell) > MAX_VALUE:
                    errors.append(f"line {line}, {name}: {len(cell)} characters; the limit is {MAX_VALUE}.")
            expected = cells.get(EXPECTED)
            rows.append({"values": {n: cells[n] for n in variables}, "expected": expected or None})
            if len(rows) > MAX_ROWS:
                raise TableError([f"More than {MAX_ROWS} rows; the limit is {MAX_ROWS}."])
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: {exc}")
    if errors:
        raise TableError(errors, total=len(errors))
    return variables, rows


def parse_jsonl(data: str) -> tuple[list[str], list[Row]]:
    """One JSON object per line (``{"question": "...", "expected": "..."}``); blank lines are skipped.
    The variables are the keys, in order of first appearance; a row without a key has it empty."""
    _size(data)
    errors: list[str] = []
    objects: list[tuple[int, dict[str, Any]]] = []
    for line_no, line in enumerate(data.lstrip("\ufeff").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            errors.append(f"line {line_no}: not JSON ({str(exc)[:80]}).")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {line_no}: must be a JSON object, not {type(obj).__name__}.")
            continue
        objects.append((line_no, obj))
        if len(objects) > MAX_ROWS:
            raise TableError([f"More than {MAX_ROWS} rows; the limit is {MAX_ROWS}."])
    if not objects and not errors:
        raise TableError(["The file has no rows."])
    names: dict[str, None] = {}
    for _, obj in objects:
        for key in obj:
            if key != EXPECTED:
                names.setdefault(key, None)
    try:
        variables = check_variables(list(names))
    except TableError as exc:
        errors.extend(exc.errors)
        variables = []
    rows = []
    for line_no, obj in objects:
        values = {n: _text(obj.get(n), f"line {line_no}, {n}", errors) or "" for n in variables}
        rows.append(
            {"values": values, "expected": _text(obj.get(EXPECTED), f"line {line_no}, expected", errors)}
        )
    if errors:
        raise TableError(sorted(errors, key=_line_of), total=len(errors))
    return variables, rows


def _line_of(error: str) -> int:
    """The line an error names ("line 7: ..."), for listing them in file order (0: none)."""
    number = error.removeprefix("line ").split(":")[0].split(",")[0]
    return int(number) if number.isdigit() else 0


def parse(data: str, *, filename: str = "") -> tuple[list[str], list[Row]]:
    """CSV or JSONL, by the file's extension, else by its first character (``{``: JSONL)."""
    name = filename.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return parse_jsonl(data)
    if name.endswith((".csv", ".txt")) or not data.lstrip("\ufeff \n\r\t").startswith("{"):
        return parse_csv(data)
    return parse_jsonl(data)


def to_csv(variables: list[str], rows: list[Row]) -> str:
    """The table as CSV: the variables, then ``expected``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*variables, EXPECTED])
    for row in rows:
        writer.writerow([*(row["values"].get(n, "") for n in variables), row.get(EXPECTED) or ""])
    return out.getvalue()


def to_jsonl(variables: list[str], rows: list[Row]) -> str:
    """The table as JSONL: one object per row (``expected`` only when the row has one)."""
    lines = []
    for row in rows:
        obj: dict[str, Any] = {n: row["values"].get(n, "") for n in variables}
        if row.get(EXPECTED) is not None:
            obj[EXPECTED] = row[EXPECTED]
        lines.append(json.dumps(obj, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")
