"""SFT (and the shared stage plumbing): label mask, loss, checkpoints, resume."""

from __future__ import annotations

import json

from transformers import AutoTokenizer

from sampling.checkpoints import load_tokenizer
from tests.train.conftest import Steps, parse, run
from train.sft import build_trainer


def test_label_mask_is_exactly_the_assistant_tokens_and_end_of_turn(views_lake, tmp_path):
    trainer, tok = build_trainer(parse("sft", views_lake, tmp_path / "out", "--model", "tiny"), "sft")
    row = trainer.train_dataset[0]
    from lakehouse.store import Lake

    messages = Lake(views_lake).read("views/sft").to_pylist()[0]["messages"]
    prefix = tok.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    prefix_ids = tok(prefix, add_special_tokens=False).input_ids
    answer_ids = tok(messages[1]["content"], add_special_tokens=False).input_ids + [tok.eos_token_id]
    newline = tok("\n", add_special_tokens=False).input_ids
    assert row["input_ids"] == prefix_ids + answer_ids + newline
    assert row["labels"] == [-100] * len(prefix_ids) + answer_ids + [-100] * len(newline)


def test_sft_loss_falls_over_30_steps_and_checkpoint_reloads(sft_run):
    out, losses = sft_run
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.7 * first, (first, last)
    assert (out / "model.safetensors").exists()
    assert load_tokenizer(out).padding_side == "left"
    assert json.loads((out / "tokenizer_config.json").read_text())["padding_side"] == "left"
    assert AutoTokenizer.from_pretrained(out).padding_side == "left"


def test_resume_from_checkpoint_continues_at_the_right_step(views_lake, mid_ckpt, tmp_path):
    common = [
        "--model",
        str(mid_ckpt),
        "--max_steps",
        "4",
        "--per_device_train_batch_size",
        "4",
        "--save_strategy",
        "steps",
        "--save_steps",
        "2",
    ]
    first = Steps()
    run("sft", views_lake, tmp_path, *common, callbacks=[first])
    assert first.begun == [0, 1, 2, 3]
    assert (tmp_path / "checkpoint-2" / "trainer_state.json").exists()
    resumed = Steps()
    run(
        "sft",
        views_lake,
        tmp_path,
        *common,
        "--resume_from_checkpoint",
        str(tmp_path / "checkpoint-2"),
        callbacks=[resumed],
    )
    assert resumed.begun == [2, 3]
    state = json.loads((tmp_path / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    # the resumed run replays the same data and optimizer state: same losses for steps 3 and 4
    assert resumed.losses == first.losses[2:]


def test_rows_longer_than_max_length_are_dropped_and_counted_never_truncated(views_lake, tmp_path, capsys):
    """Real R1 traces (tests/fixtures/README.md, 1.3k-4.5k characters of reasoning) beside the view's
    short rows, SFT at max_length 256: the long rows are dropped before training, counted, printed and
    stored in the stage's train_data.json; every row trained fits (its answer and </think> are kept)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from sampling.prompts import assistant_text, prompt_messages
    from tests.conftest import FIXTURES
    from train.data import bound_length, load_view

    short = load_view(views_lake / "views" / "sft", "sft")["messages"]
    r1 = [json.loads(line) for line in (FIXTURES / "r1_671b_traces.jsonl").read_text().splitlines()]
    long_rows = [
        prompt_messages(t["problem"])
        + [{"role": "assistant", "content": assistant_text(t["message_thinking"], t["message_content"])}]
        for t in r1
    ]
    data = tmp_path / "view"
    data.mkdir()
    messages = list(short) + long_rows
    pq.write_table(pa.table({"messages": messages}), data / "part-0.parquet")
    out = tmp_path / "sft"
    run("sft", views_lake, out, "--data", str(data), "--max_steps", "1", "--max_length", "256")
    printed = capsys.readouterr().out
    assert f"sft: dropped 5 of {len(messages)} rows longer than max_length 256 tokens" in printed
    assert printed.strip().splitlines()[-1].endswith("; 5 rows longer than max_length dropped")
    assert json.loads((out / "train_data.json").read_text()) == {
        "view": "sft", "rows": len(messages) - 5, "dropped_long": 5
    }  # fmt: skip
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    kept, dropped = bound_length(load_view(data, "sft"), tokenizer, 256, "drop", "sft")
    assert dropped == 5 and all(
        len(tokenizer.apply_chat_template(m, tokenize=True)["input_ids"]) <= 256 for m in kept["messages"]
    )
