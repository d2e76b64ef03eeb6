"""The benchmark registry: a name resolves to a file, its fields, its answer normalisation, its size and the
evaluation protocol it is scored under (the paper's: k 64 for AIME, 8 otherwise; T 0.6, top-p 0.95,
32,768 tokens, the boxed instruction).

The seven shipped sets are registered in `benchmarks.yaml` beside this module; a user registers more with
YAML files of the same shape in the directory `$MINIREASON_BENCHMARKS` (a bare `.jsonl`/`.parquet` file
there registers under its stem with detected fields). Every command that takes benchmarks accepts the
same specification (`resolve`): registered names, `bench:NAME`, comma lists, `all`, or a path
(`FILE.jsonl`, `FILE.parquet`, `hf:ORG/NAME[:SPLIT]`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from lakehouse.errors import UserError

SHIPPED = Path(__file__).with_name("benchmarks.yaml")
USER_DIR_ENV = "MINIREASON_BENCHMARKS"
NORMALISE = ("gold", "none")
FILE_SUFFIXES = (".jsonl", ".parquet")


@dataclass(frozen=True)
class Benchmark:
    """One registered set and the protocol it is evaluated under."""

    name: str
    file: str  # a local path, `hf:NAME[:SPLIT]`, or `builtin:FAMILY` (generated: needs --n)
    problem_field: str | None = None  # None: detected (problem, question, prompt, query)
    answer_field: str | None = None  # None: detected (answer, final_answer, solution)
    normalise: str = "gold"  # gold: reward.extract.normalize_gold; none: the field as written
    size: int | None = None  # rows the file must hold (checked on load); None: not checked
    k: int = 8  # samples per problem for pass@1 (the paper: 64 for AIME, 8 otherwise)
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 32768
    instruction: str | None = None  # None: the project's default boxed instruction
    source: str = ""  # where the data comes from (repository · path)
    license: str = ""
    registered: bool = True  # False: an ad-hoc path given on the command line

    @property
    def problems_source(self) -> str:
        """The problems source that loads it (`problemsets.load`): `bench:NAME`, or the file given."""
        return f"bench:{self.name}" if self.registered else self.file


_KEYS = {f.name for f in dataclasses.fields(Benchmark)} - {"name", "file", "registered"}


def resolve(specs: str | Iterable[str]) -> list[Benchmark]:
    """Benchmarks named by one spec or several (each may be a comma list); duplicates kept once, in order."""
    items = [specs] if isinstance(specs, str) else list(specs)
    parts = [p.strip() for item in items for p in str(item).split(",") if p.strip()]
    if not parts:
        raise UserError(f"no benchmark given (a name, a comma list, all, or a file); known: {_known()}")
    out: dict[str, Benchmark] = {}
    for part in parts:
        for b in _resolve_one(part):
            out.setdefault(b.name, b)
    return list(out.values())


def _resolve_one(part: str) -> list[Benchmark]:
    reg = registry()
    if part == "all":
        return list(reg.values())
    name = part.removeprefix("bench:")
    if name in reg:
        return [reg[name]]
    if part.startswith(("hf:", "builtin:")) or Path(part).suffix in FILE_SUFFIXES:
        return [ad_hoc(part)]
    raise UserError(
        f"unknown benchmark {part!r}; known: {_known()} (or all, a .jsonl/.parquet file, hf:NAME[:SPLIT])"
    )


def ad_hoc(spec: str) -> Benchmark:
    """A file or dataset named on the command line: fields detected, default protocol."""
    if spec.startswith(("hf:", "builtin:")):
        return Benchmark(name=spec, file=spec, registered=False)
    path = Path(spec)
    if not path.is_file():
        raise UserError(f"{spec}: no such benchmark file")
    return Benchmark(name=path.name, file=str(path), registered=False)


def _known() -> str:
    return ", ".join(registry())


def registry() -> dict[str, Benchmark]:
    """Shipped sets, then the user's ($MINIREASON_BENCHMARKS); a user set may not reuse a shipped name."""
    reg = dict(_load_yaml(SHIPPED))
    user_dir = os.environ.get(USER_DIR_ENV)
    if user_dir:
        for name, b in _user_sets(Path(user_dir)).items():
            if name in reg and reg[name].file != b.file:
                raise UserError(f"{USER_DIR_ENV}: benchmark {name!r} is already registered (shipped)")
            reg[name] = b
    return reg


def _user_sets(root: Path) -> dict[str, Benchmark]:
    if not root.is_dir():
        raise UserError(f"{USER_DIR_ENV}={root}: not a directory")
    out: dict[str, Benchmark] = {}
    for path in sorted(root.iterdir()):
        if path.suffix in (".yaml", ".yml"):
            out.update(_load_yaml(path))
        elif path.suffix in FILE_SUFFIXES:
            out.setdefault(path.stem, Benchmark(name=path.stem, file=str(path)))
    return out


@cache
def _load_yaml_cached(path: Path, mtime_ns: int) -> dict[str, Benchmark]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"{path}{f':{mark.line + 1}' if mark else ''}: not valid YAML") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of benchmark name -> settings")
    return {str(name): _entry(path, str(name), spec) for name, spec in data.items()}


def _load_yaml(path: Path) -> dict[str, Benchmark]:
    return _load_yaml_cached(path.resolve(), path.stat().st_mtime_ns)


def _entry(path: Path, name: str, spec: object) -> Benchmark:
    where = f"{path}: {name}"
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected a mapping of settings")
    spec = dict(spec)
    if ("file" in spec) == ("hf" in spec):
        raise UserError(f"{where}: give exactly one of file: PATH or hf: ORG/NAME[:SPLIT]")
    file = f"hf:{spec.pop('hf')}" if "hf" in spec else str(path.parent / str(spec.pop("file")))
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r} (known: file, hf, {', '.join(sorted(_KEYS))})")
    hints = {f.name: f.type for f in dataclasses.fields(Benchmark)}
    for key, value in spec.items():
        _check(where, key, value, hints[key])
    b = Benchmark(name=name, file=file, **spec)
    if b.normalise not in NORMALISE:
        raise UserError(f"{where}: normalise must be one of {', '.join(NORMALISE)}, got {b.normalise!r}")
    if b.k < 1 or b.max_tokens < 1 or not 0 < b.top_p <= 1 or b.temperature < 0:
        raise UserError(f"{where}: k and max_tokens must be >= 1, top_p in (0, 1], temperature >= 0")
    return b


def _check(where: str, key: str, value: object, hint: str) -> None:
    """YAML values against the dataclass annotations (strings, as `from __future__ import annotations`)."""
    base = hint.replace(" | None", "")
    if value is None and "None" in hint:
        return
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
    }.get(base, True)
    if not ok:
        raise UserError(f"{where}: {key} must be {base}, got {value!r}")
