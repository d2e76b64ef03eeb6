"""Problem dedup: exact duplicates in DuckDB, near-duplicates through datatrove's MinHash pipeline with
our signature step (recall on reworded real problems, false positives on unrelated ones)."""

from __future__ import annotations

import json
import random

import duckdb
import pyarrow as pa
import pytest

from curate.config import DedupConfig
from curate.dedup import exact_duplicates, math_tokens, near_duplicates
from curate.minhash import MinhashParams, MinhashSigner, jaccard
from tests.conftest import FIXTURES

FILLERS = ["then", "also", "now", "here", "thus", "so", "still", "again"]


def test_exact_duplicates_keep_the_first_row_of_each_problem_id():
    table = pa.table({"row": [0, 1, 2, 3, 4], "problem_id": ["b", "a", "b", "c", "b"]})
    con = duckdb.connect()
    con.register("p", table)
    assert exact_duplicates(con, "p", "problem_id").to_pylist() == [
        {"row": 2, "problem_id": "b", "kept_id": "b"},
        {"row": 4, "problem_id": "b", "kept_id": "b"},
    ]


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("How many arrangements of the letters F, A, E, E?", ["F", "A", "E", "E"]),
        ("Solve 3x + 2 = 5 for x, a real number. I think.", ["3", "x", "+", "2", "=", "5", "x"]),
        ("Compute 3/5 + 2/3.", ["3", "/", "5", "+", "2", "/", "3"]),
        ("Left to right, mod 10: 7*9+7", ["10", "7", "*", "9", "+", "7"]),
        ("No symbols here at all", []),
    ],
)
def test_math_tokens(text, tokens):
    assert math_tokens(text) == tokens


def real_problems(benchmarks_dir, n: int) -> list[str]:
    """Distinct MATH-500 problems of at least 30 words (real text to reword)."""
    rows = [json.loads(line)["problem"] for line in (benchmarks_dir / "math500.jsonl").open()]
    return [t for t in rows if len(t.split()) >= 30][:n]


def reword(text: str, target: float, signer: MinhashSigner, rng: random.Random) -> tuple[str, float]:
    """Swap neighbouring words and insert filler words until one more edit would take the shingle
    Jaccard below `target`; numbers stay as they are (a rewording)."""
    base = set(signer.shingles(text).tolist())
    words, best = text.split(), (text, 1.0)
    while True:
        i = rng.randrange(1, len(words) - 1)
        if rng.random() < 0.5:
            words.insert(i, rng.choice(FILLERS))
        else:
            words[i], words[i + 1] = words[i + 1], words[i]
        candidate = " ".join(words)
        j = jaccard(base, set(signer.shingles(candidate).tolist()))
        if j < target or math_tokens(candidate) != math_tokens(text):
            return best
        best = (candidate, j)


def test_near_duplicates_recall_and_false_positives(benchmarks_dir, tmp_path):
    """Reworded problems at Jaccard 0.80-0.90 are found (>= 95%), unrelated problems are not (<= 1%)."""
    cfg = DedupConfig()
    signer = MinhashSigner(MinhashParams(cfg.n_grams, cfg.bands, cfg.rows, cfg.seed))
    rng = random.Random(7)
    originals = real_problems(benchmarks_dir, 160)
    ids, texts, twin = [], [], {}
    for i, text in enumerate(originals):
        ids.append(f"orig{i:03d}")
        texts.append(text)
        if i < 120:  # 120 reworded pairs; the last 40 originals have no twin
            copy, j = reword(text, rng.uniform(0.80, 0.90), signer, rng)
            assert j >= 0.80
            ids.append(f"copy{i:03d}")
            texts.append(copy)
            twin[f"orig{i:03d}"], twin[f"copy{i:03d}"] = f"copy{i:03d}", f"orig{i:03d}"
    found = near_duplicates(pa.table({"problem_id": ids, "problem": texts}), cfg, tmp_path / "work")
    pairs = found.to_pylist()
    true = [p for p in pairs if twin.get(p["problem_id"]) == p["kept_id"]]
    false = [p for p in pairs if twin.get(p["problem_id"]) != p["kept_id"]]
    assert len(true) / 120 >= 0.95
    assert len(false) / len(ids) <= 0.01
    assert not (tmp_path / "work").exists()  # the work folder is removed


def test_templated_problems_differing_in_numbers_are_not_near_duplicates(tmp_path):
    template = (
        "A school club has {} members and wants to choose a committee for the annual science fair. The "
        "committee must have a president, a treasurer and three other members, and nobody may hold two "
        "roles at once. The president must have been a member for at least two years. In how many "
        "different ways can the club form such a committee if exactly {} of the members qualify?"
    )
    texts = [template.format(12, 5), template.format(12, 6), template.format(12, 5) + " Explain."]
    table = pa.table({"problem_id": ["p0", "p1", "p2"], "problem": texts})
    found = near_duplicates(table, DedupConfig(), tmp_path / "w").to_pylist()
    assert [sorted(p.values()) for p in found] == [["p0", "p2"]]
    unguarded = near_duplicates(table, DedupConfig(same_math_tokens=False), tmp_path / "w")
    assert unguarded.num_rows == 2  # the MinHash stage alone puts all three in one cluster


def _pairs(table: pa.Table) -> list[tuple[str, str]]:
    return sorted(tuple(sorted(p.values())) for p in table.to_pylist())


def _tasks_fixture(benchmarks_dir) -> pa.Table:
    texts = real_problems(benchmarks_dir, 30)
    texts += [t + " Show your work." for t in texts[:10]]
    return pa.table({"problem_id": [f"p{i:02d}" for i in range(len(texts))], "problem": texts})


def test_several_tasks_give_the_same_result(benchmarks_dir, tmp_path):
    table = _tasks_fixture(benchmarks_dir)
    one = near_duplicates(table, DedupConfig(tasks=1), tmp_path / "a")
    three = near_duplicates(table, DedupConfig(tasks=3), tmp_path / "b")
    assert _pairs(one) == _pairs(three)
    assert len(_pairs(one)) == 10


@pytest.mark.slow
def test_parallel_workers_give_the_same_result(benchmarks_dir, tmp_path):
    table = _tasks_fixture(benchmarks_dir)
    one = near_duplicates(table, DedupConfig(tasks=1), tmp_path / "a")
    parallel = near_duplicates(table, DedupConfig(tasks=4, workers=2), tmp_path / "b")
    assert _pairs(one) == _pairs(parallel)


def test_near_duplicates_with_different_gold_answers_are_kept(tmp_path):
    """Five MinHash near-duplicate pairs from MATH train + AIME (tests/fixtures/README.md): three differ in
    their gold answers (sum vs product of the roots, ...) and are different problems; two are rewordings."""
    rows = [
        json.loads(line) for line in (FIXTURES / "near_duplicates_realdata.jsonl").read_text().splitlines()
    ]
    table = pa.table(
        {
            "problem_id": [f"p{i}" for i in range(len(rows))],
            "problem": [r["problem"] for r in rows],
            "answer": [r["answer"] for r in rows],
        }
    )
    without = near_duplicates(table.select(["problem_id", "problem"]), DedupConfig(), tmp_path / "a")
    assert sorted(without.column("problem_id").to_pylist()) == ["p1", "p3", "p5", "p7", "p9"]
    merged = near_duplicates(table, DedupConfig(), tmp_path / "b")
    pairs = zip(merged.column("problem_id").to_pylist(), merged.column("kept_id").to_pylist(), strict=True)
    assert sorted(pairs) == [
        ("p7", "p6"), ("p9", "p8")
    ]  # fmt: skip
