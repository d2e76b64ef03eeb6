"""Mid-training: packed, padding-free batches where no sample attends to another."""

from __future__ import annotations

import torch

from tests.train.conftest import parse
from train.sft import build_trainer


def test_packed_batch_restarts_position_ids_per_sample_and_isolates_samples(views_lake, tmp_path):
    cfg = parse(
        "mid",
        views_lake,
        tmp_path,
        "--model",
        "tiny",
        "--max_length",
        "512",
        "--per_device_train_batch_size",
        "2",
    )
    trainer, _ = build_trainer(cfg, "mid")
    rows = [trainer.train_dataset[i] for i in range(2)]
    batch = trainer.data_collator(rows)
    lengths = [n for r in rows for n in r["seq_lengths"]]
    assert len(lengths) > 2  # several samples share each packed row
    expected = torch.cat([torch.arange(n) for n in lengths])
    assert torch.equal(batch["position_ids"][0], expected)
    assert "attention_mask" not in batch  # padding-free: the mask comes from the position ids
    # the first token of every sample is not a target (it would be predicted from the previous sample)
    starts = torch.cumsum(torch.tensor([0] + lengths[:-1]), 0)
    assert (batch["labels"][0, starts] == -100).all()
    # no attention across samples: each sample's logits in the packed row equal its logits alone
    model = trainer.model.eval()
    ids = batch["input_ids"]
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=batch["position_ids"], use_cache=False).logits[0]
        for start, n in zip(starts.tolist(), lengths, strict=True):
            alone = model(input_ids=ids[:, start : start + n], use_cache=False).logits[0]
            torch.testing.assert_close(packed[start : start + n], alone, atol=1e-5, rtol=1e-4)


def test_mid_runs_three_steps_and_saves_a_checkpoint_sft_loads(mid_ckpt, sft_run):
    assert (mid_ckpt / "model.safetensors").exists()
    state_files = list(mid_ckpt.glob("*.json"))
    assert any(p.name == "config.json" for p in state_files)
    assert sft_run[1]  # the SFT fixture started from this checkpoint and trained
