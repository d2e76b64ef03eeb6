"""Turn an imported record (a JSON object, a parquet row, a dataset example) into a `problems` row.

Field names differ between datasets: the problem and answer fields are detected from common names
unless the user names them; gold answers in any benchmark format go through `normalize_gold`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lakehouse.errors import UserError
from lakehouse.ids import problem_id
from reward.extract import normalize_gold

PROBLEM_FIELDS = ("problem", "question", "prompt", "query")
ANSWER_FIELDS = ("answer", "final_answer", "solution")
DOMAIN_FIELDS = ("domain", "subject", "type", "subfield")
LEVEL_FIELDS = ("level", "difficulty")
_LEVEL = re.compile(r"(?:level\s*)?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class FieldMap:
    problem: str
    answer: str
    level: str | None = None  # None: the record has no level/difficulty field


def detect_fields(
    record: Mapping,
    problem_field: str | None,
    answer_field: str | None,
    where: str,
    level_field: str | None = None,
) -> FieldMap:
    """The fields to read, from the user's choice or the first common name present in `record`."""
    if level_field and level_field not in record:
        raise UserError(f"{where}: no field {level_field!r} (--level-field)")
    return FieldMap(
        problem=_pick(record, problem_field, PROBLEM_FIELDS, "problem", where),
        answer=_pick(record, answer_field, ANSWER_FIELDS, "answer", where),
        level=level_field or next((f for f in LEVEL_FIELDS if f in record), None),
    )


def _pick(record: Mapping, chosen: str | None, candidates: tuple[str, ...], role: str, where: str) -> str:
    if chosen:
        return chosen
    for name in candidates:
        if name in record:
            return name
    looked = ", ".join(candidates)
    raise UserError(f"{where}: no {role} field (looked for {looked}); name it with --{role}-field")


def to_row(record: Mapping, fields: FieldMap, source: str, where: str, normalise: str = "gold") -> dict:
    problem = _problem_text(record, fields.problem, where)
    raw = record.get(fields.answer)
    answer = _gold(raw, fields.answer, where, normalise)
    return {
        "problem_id": problem_id(problem),
        "source": source,
        "problem": problem,
        "answer": answer,
        "domain": _domain(record),
        "level": _level(record.get(fields.level)) if fields.level else None,
        "meta": _meta(record, fields, raw, answer),
    }


def _problem_text(record: Mapping, name: str, where: str) -> str:
    if name not in record or record[name] is None:
        raise UserError(f"{where}: missing field {name!r}")
    value = record[name]
    if not isinstance(value, str):
        raise UserError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise UserError(f"{where}: field {name!r} is empty")
    return value


def _gold(raw: object, name: str, where: str, normalise: str = "gold") -> str:
    if raw is None:
        raise UserError(f"{where}: missing field {name!r}")
    scalar = (str, int, float)
    ok = isinstance(raw, scalar) or (
        isinstance(raw, list) and raw and all(isinstance(x, scalar) for x in raw)
    )
    if isinstance(raw, bool) or not ok:
        raise UserError(
            f"{where}: field {name!r} must be a string, a number or a list of them, got {type(raw).__name__}"
        )
    answer = (normalize_gold(raw) if normalise == "gold" else _as_text(raw)).strip()
    if not answer:
        raise UserError(f"{where}: field {name!r} holds no answer")
    return answer


def _as_text(raw: object) -> str:
    return ", ".join(map(str, raw)) if isinstance(raw, list) else str(raw)


def _domain(record: Mapping) -> str | None:
    for name in DOMAIN_FIELDS:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _level(value: object) -> int | None:
    """`3`, `3.0`, "3" or "Level 3" (the MATH dataset's style); a fractional difficulty (AIME's 4.25)
    rounds to the nearest level; anything else is unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e6:
        return int(value + 0.5) if value >= 0 else -int(-value + 0.5)
    if isinstance(value, str):
        m = _LEVEL.fullmatch(value.strip())
        return int(m.group(1)) if m else None
    return None


def _meta(record: Mapping, fields: FieldMap, raw: object, answer: str) -> str:
    """The record's other fields, and the raw gold answer when normalisation changed it."""
    meta = {k: v for k, v in record.items() if k not in (fields.problem, fields.answer)}
    if raw != answer:
        meta["raw_answer"] = raw
    return json.dumps(meta, ensure_ascii=False, default=str)
