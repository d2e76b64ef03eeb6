"""Decontamination quality on real training sets against the shipped benchmarks: the project's rule
against the single-shared-13-gram rule, measured in the same run.

    python bench/decontam_quality.py --train math_train.jsonl aime_1983_2023.jsonl

For every flag it reports the word-sequence similarity of the pair (difflib ratio over normalised words);
a pair below 0.5 shares a phrase, not a problem ("unrelated"). Copies are found independently of either
rule: pairs whose word multisets differ by at most 10%, with the same numbers and the same gold answer
(found among pairs that share three rare 6-grams). Prints flags, unrelated flags and copies caught.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402

from curate import decontam  # noqa: E402
from curate.config import DecontamConfig  # noqa: E402
from curate.ngrams import words  # noqa: E402
from problemsets import load_problems, read_records  # noqa: E402
from problemsets.records import detect_fields, to_row  # noqa: E402
from synth.problems import ProblemsConfig  # noqa: E402


def training_rows(paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        fields = None
        for where, record in read_records(path):
            fields = fields or detect_fields(record, None, None, where)
            try:
                rows.append(to_row(record, fields, Path(path).name, where))
            except Exception:  # a row without a gold answer: kept out of the measurement
                continue
    return rows


def ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(
        None, words(a, split_digits=True), words(b, split_digits=True), autojunk=False
    ).ratio()


def copies(train: list[dict], items: list[tuple[str, int, str, str]]) -> set[tuple[int, str, int]]:
    def grams(w):
        return {tuple(w[i : i + 6]) for i in range(max(1, len(w) - 5))}

    item_words = [words(t, split_digits=True) for _, _, t, _ in items]
    df = Counter(g for w in item_words for g in grams(w))
    owners = defaultdict(list)
    for k, w in enumerate(item_words):
        for g in grams(w):
            if df[g] <= 3:
                owners[g].append(k)
    found = set()
    for j, row in enumerate(train):
        w = words(row["problem"], split_digits=True)
        hits = Counter(k for g in grams(w) for k in owners.get(g, ()))
        for k, n in hits.items():
            a, b = Counter(w), Counter(item_words[k])
            diff = sum(((a - b) + (b - a)).values()) / max(1, sum(a.values()) + sum(b.values()))
            same_numbers = sorted(x for x in w if x.isdigit()) == sorted(
                x for x in item_words[k] if x.isdigit()
            )
            same_gold = row["answer"].replace(" ", "") == items[k][3].replace(" ", "")
            if n >= 3 and diff <= 0.1 and same_numbers and same_gold:
                found.add((j, items[k][0], items[k][1]))
    return found


def measure(name: str, cfg: DecontamConfig, train, benches, truth) -> None:
    index = decontam.BenchmarkIndex(benches, cfg.n_gram, cfg)
    table = pa.table(
        {"problem_id": [str(j) for j in range(len(train))], "problem": [r["problem"] for r in train]}
    )
    flags = decontam.find_contaminated(table, index).to_pylist()
    text = {(b.name, i): t for b in benches for i, t in enumerate(b.items)}
    got = {(int(f["problem_id"]), f["benchmark"], f["item"]) for f in flags}
    unrelated = sum(ratio(train[j]["problem"], text[(b, i)]) < 0.5 for j, b, i in got)
    by_source = Counter(train[j]["source"] for j, _, _ in got)
    print(
        f"{name:<22} flags {len(flags):>5}  unrelated {unrelated:>4} ({unrelated / max(1, len(flags)):.1%})  "
        f"copies caught {len(truth & got)}/{len(truth)}  by source {dict(by_source)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", nargs="+", help="training problem files (.jsonl/.parquet)")
    args = parser.parse_args()
    if not args.train:  # `make bench` runs every script bare: this one needs the user's real data
        print("decontam_quality: skipped (give --train FILE ...: real training sets to measure on)")
        return
    train = training_rows(args.train)
    cfg = DecontamConfig()
    benches = [decontam.load_benchmark(b) for b in cfg.benchmark_sets()]
    golds = {
        b.name: load_problems(b.problems_source, ProblemsConfig(source="")).column("answer").to_pylist()
        for b in cfg.benchmark_sets()
    }
    items = [(b.name, i, t, golds[b.name][i]) for b in benches for i, t in enumerate(b.items)]
    truth = copies(train, items)
    print(f"{len(train)} training problems, {len(items)} benchmark items, {len(truth)} copies")
    measure("single shared 13-gram", replace(cfg, max_item_df=10**9, min_coverage=0.0), train, benches, truth)
    measure("project rule", cfg, train, benches, truth)


if __name__ == "__main__":
    main()
