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
