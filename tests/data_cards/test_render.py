"""The rendered card: metadata that parses back, the sections, exact numbers, "not run" lines."""

from __future__ import annotations

import json

import pytest
from helpers import card_lake
from huggingface_hub import DatasetCard

from data_cards.render import CardLayout, render, size_category
from data_cards.stats import collect

VIEWS = ["mid", "sft", "dpo", "rl"]
SECTIONS = [
    "## How it was made",
    "## Statistics",
    "### Drop-reason funnel",
    "## Decontamination",
    "## Schema",
    "## How to load it",
    "## Limitations",
]


def layout(**kw) -> CardLayout:
    files = {v: f"data/{v}/*.parquet" for v in VIEWS}
    return CardLayout(data_files=files, plots={"lengths": "plots/l.png", "funnel": "plots/f.png"}, **kw)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    root = tmp_path_factory.mktemp("render") / "lake"
    card_lake.build(root)
    return collect(root, VIEWS)


def test_card_parses_back_with_metadata_and_configs(full, tmp_path):
    path = tmp_path / "README.md"
    path.write_text(str(render(full, layout(license="cc-by-4.0"))))
    card = DatasetCard.load(path)
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0"
    assert data["language"] == "en"
    assert data["task_categories"] == ["text-generation"]
    assert data["size_categories"] == "n<1K"
    assert data["configs"] == [
        {"config_name": v, "data_files": [{"split": "train", "path": f"data/{v}/*.parquet"}]} for v in VIEWS
    ]
    positions = [card.text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)


def test_card_numbers_are_the_lake_numbers(full):
    text = str(render(full, layout()))
    lines = text.splitlines()
    assert (
        "| `sft` | 5 | 5 | distillation SFT: a high-quality subset of correct traces (at most k per problem, "
        "preferred band) |" in lines
    )
    assert "| `mid` | mid | 12 | tokens | 216 | 18.0 | 11 | 16 | 26 | 30 |" in lines
    assert "| `r1` | `procedural` | 24 | 6 | 4 | 0.8 | 0.95 | 256 | 7 | 2026-11-28 08:00 | 0.00 |" in lines
    assert "| `filters` | traces | 24 | 20 | no_boxed_answer | 3 |" in lines
    assert (
        "`rl`: 5 prompts over 5 problems; teacher pass rate of its prompts 0.000–0.750 (mean 0.400); "
        "repeated rows are oversampled hard prompts." in lines
    )
    assert "| `math500` | 500 | 1 | “Compute 9+0.” ≈ “Compute 9+0 now.” (shares “compute 9 0”) |" in lines
    assert (
        "Training problems were checked for 13-gram overlap (normalised words; n-grams that several "
        "benchmark items share are boilerplate and ignored; a match must cover half of an item's n-grams or "
        "follow its words closely) with each benchmark; 1 matched and were dropped (reason `contaminated:<benchmark>` in the funnel)."
        in lines
    )
    assert "6 verified problems, mean pass rate 0.500; 1 never solved, 1 always solved." in lines
    assert "| easy | 3 | 0.583 |" in lines
    start = lines.index("### Curation parameters")
    assert lines[start + 2 : start + 7] == [
        "- `mid`: no stage parameters",
        "- `sft`: sft_k=1",
        "- `dpo`: dpo_max_pairs=1",
        "- `rl`: no stage parameters",
        "- prompt the teacher answered (and the rows keep): user: “{problem}\\nPlease reason step by step, and "
        "put your final answer within \\boxed{}.”",
    ]
    assert (
        "Difficulty bands (from `problem_stats`; unsolved = 0, hard < 0.25, medium < 0.5, easy < 1, trivial = 1):"
        in lines
    )
    assert "![Curation funnel](plots/f.png)" in lines
    assert "![Pass-rate distribution]" not in text  # no such plot in this layout: no broken image link


def test_schema_shows_an_example_row_per_view(full):
    text = str(render(full, layout()))
    dpo = text[text.index("### `dpo`") : text.index("### `rl`")]
    example = json.loads(dpo.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert example["chosen"] == [{"role": "assistant", "content": "<think>1+0=1</think>\\boxed{1}"}]
    assert example["rejected"] == [{"role": "assistant", "content": "<think>1+0=2</think>\\boxed{2}"}]
    assert example["problem_id"] == "p1"


def test_snippets_point_at_the_hub_or_the_folder(full):
    hub = str(render(full, layout(dataset_ref="org/name", on_hub=True)))
    assert 'sft = load_dataset("org/name", "sft", split="train")' in hub
    assert "FROM 'hf://datasets/org/name/data/mid/*.parquet';" in hub
    local = str(render(full, layout(dataset_ref="out/ds")))
    assert 'df = pl.read_parquet("out/ds/data/mid/*.parquet")' in local


def test_missing_steps_say_not_run(tmp_path):
    card_lake.build(tmp_path / "lake", funnel=False, decontam=False, provenance=False)
    text = str(
        render(collect(tmp_path / "lake", ["sft"]), CardLayout(data_files={"sft": ["part-x.parquet"]}))
    )
    assert "_curation funnel: not run (run `curate run`)._" in text
    assert "**Decontamination has not run for this data**" in text
    assert "- **Decontamination has not run** (see above)." in text
    assert "_no provenance file: this view was written without its parameters._" in text


@pytest.mark.parametrize(
    ("rows", "category"),
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1_000, "1K<n<10K"),
        (99_999, "10K<n<100K"),
        (1_600_000, "1M<n<10M"),
        (10**9, "n>100M"),
    ],
)
def test_size_category(rows, category):
    assert size_category(rows) == category


def test_near_duplicates_merged_are_shown_with_both_texts(tmp_path):
    import pyarrow as pa

    lake = card_lake.build(tmp_path / "lake")
    problems = lake.read("problems").to_pylist()
    lake.replace(
        "dedup",
        [pa.table({"problem_id": [problems[1]["problem_id"]], "kept_id": [problems[0]["problem_id"]]})],
    )
    lines = str(render(collect(lake.root, ["sft"]), layout())).splitlines()
    start = lines.index("### Near-duplicates")
    assert lines[start + 2 : start + 5] == [
        "1 problems were merged into a near-duplicate with the same gold answer.",
        "",
        f"- “{problems[1]['problem']}” ≈ kept “{problems[0]['problem']}”",
    ]
