"""Training-step throughput of TRL's SFT (packed) and DPO steps vs a plain PyTorch loop on the same batches.

Prints tokens/s, MFU (on a GPU with a known peak) and the ratio TRL / plain for each stage, all measured
in this run. A random Qwen2-shaped model: ~0.5B (Qwen2.5-0.5B's shape) in bf16 on CUDA, a tiny one in
fp32 on CPU (a smoke run of the same code paths).

  python bench/train_step.py                      # picks 0.5b on CUDA, tiny on CPU
  python bench/train_step.py --size 0.5b --steps 20 --seq-len 8192
"""

from __future__ import annotations

import argparse
import copy
import random
import tempfile
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import Qwen2Config, Qwen2ForCausalLM, TrainerCallback

from sampling.checkpoints import fastest_attention
from train.tiny import train_tokenizer

SHAPES = {  # Qwen2.5-0.5B's shape (vocab included) and a CPU-sized one
    "0.5b": dict(
        hidden_size=896,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        intermediate_size=4864,
        vocab_size=151936,
    ),
    "tiny": dict(
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=256,
        vocab_size=512,
    ),
}
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12}


@dataclass
class Result:
    stage: str
    impl: str
    tokens_per_s: float
    mfu: float | None


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step (synchronised on CUDA)."""

    def __init__(self):
        self.times: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        _sync()
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        _sync()
        self.times.append(time.perf_counter() - self._t)


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def build_model(size: str, seed: int = 0) -> Qwen2ForCausalLM:
    torch.manual_seed(seed)
    cfg = Qwen2Config(**SHAPES[size], max_position_embeddings=32768, tie_word_embeddings=True)
    # the attention the stages use: flash-attention 2 where installed (varlen packing), else SDPA
    cfg._attn_implementation = fastest_attention() or "sdpa"
    model = Qwen2ForCausalLM(cfg)
    if torch.cuda.is_available():
        model = model.to("cuda", dtype=torch.bfloat16)
    return model


def flops_per_token(model, seq_len: float) -> float:
    """6N (forward + backward of every weight, lm_head included) + causal attention 6 * layers * d * seq."""
    cfg = model.config
    n = sum(p.numel() for p in model.parameters())
    attn = 6 * cfg.num_hidden_layers * cfg.hidden_size * seq_len
    return 6 * n + attn


def peak_flops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def trl_common(out: str, steps: int, batch: int) -> dict:
    cuda = torch.cuda.is_available()
    return dict(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=batch,
        learning_rate=1e-5,
        bf16=cuda,
        use_cpu=not cuda,
        activation_checkpointing=False,
        logging_steps=10_000,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )


# -- SFT, packed ---------------------------------------------------------------------------------------
def sft_dataset(vocab: int, n_docs: int, lo: int, hi: int, seed: int = 0) -> Dataset:
    rng = random.Random(seed)
    docs = [[rng.randrange(8, vocab) for _ in range(rng.randint(lo, hi))] for _ in range(n_docs)]
    return Dataset.from_dict({"input_ids": docs})


def bench_sft(size, tok, steps, warmup, seq_len, batch, lo, hi) -> list[Result]:
    from trl import SFTConfig, SFTTrainer

    model = build_model(size)
    ds = sft_dataset(
        tok.vocab_size if size == "tiny" else SHAPES[size]["vocab_size"],
        40 * batch * (steps + warmup),
        lo,
        hi,
    )
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(**trl_common(out, steps + warmup, batch), packing=True, max_length=seq_len)
        timer = StepTimer()
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[timer]
        )
        batches = [b for _, b in zip(range(steps + warmup), trainer.get_train_dataloader(), strict=False)]
        plain_model = copy.deepcopy(model)
        trainer.train()
    tokens = [int(b["input_ids"].numel()) for b in batches]
    avg_doc = (lo + hi) / 2
    trl = _result("sft-packed", "trl", tokens[warmup:], timer.times[warmup:], model, avg_doc)
    plain = _result(
        "sft-packed", "plain", tokens[warmup:], plain_sft(plain_model, batches)[warmup:], model, avg_doc
    )
    return [trl, plain]


def plain_sft(model, batches) -> list[float]:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=torch.cuda.is_available())
    times = []
    for b in batches:
        b = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in b.items()}
        _sync()
        t = time.perf_counter()
        logits = model(input_ids=b["input_ids"], position_ids=b["position_ids"], use_cache=False).logits
        loss = F.cross_entropy(
            logits[:, :-1].flatten(0, 1).float(), b["labels"][:, 1:].flatten(), ignore_index=-100
        )
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync()
        times.append(time.perf_counter() - t)
    return times


# -- DPO ---------------------------------------------------------------------------------------------
def dpo_dataset(n: int, prompt_len: int, completion_len: int, seed: int = 0) -> Dataset:
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789+*= "

    def text(k: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(k))

    return Dataset.from_dict(
        {
            "prompt": [text(prompt_len) for _ in range(n)],
            "chosen": [text(completion_len) for _ in range(n)],
            "rejected": [text(completion_len) for _ in range(n)],
        }
    )


def bench_dpo(size, tok, steps, warmup, batch, prompt_len, completion_len) -> list[Result]:
    from trl import DPOConfig, DPOTrainer

    model = build_model(size)
    ref = copy.deepcopy(model).eval().requires_grad_(False)
    ds = dpo_dataset(batch * (steps + warmup), prompt_len, completion_len)
    with tempfile.TemporaryDirectory() as out:
        args = DPOConfig(
            **trl_common(out, steps + warmup, batch), max_length=prompt_len + completion_len + 8, beta=0.1
        )
        timer = StepTimer()
        trainer = DPOTrainer(
            model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok, callbacks=[timer]
        )
        batches = [b for _, b in zip(range(steps + warmup), trainer.get_train_dataloader(), strict=False)]
        plain_model = copy.deepcopy(model)
        trainer.train()
    tokens = [int(b["attention_mask"].sum()) for b in batches]
    seq = prompt_len + completion_len
    # useful work per token: policy forward+backward (6N) + reference forward (2N): scale 4/3 of 6N
    trl = _result("dpo", "trl", tokens[warmup:], timer.times[warmup:], model, seq, ref_factor=4 / 3)
    plain_times = plain_dpo(plain_model, ref, batches)[warmup:]
    plain = _result("dpo", "plain", tokens[warmup:], plain_times, model, seq, ref_factor=4 / 3)
    return [trl, plain]


def _seq_logps(model, b) -> torch.Tensor:
    logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], use_cache=False).logits[
        :, :-1
    ]
    logps = torch.log_softmax(logits.float(), -1).gather(-1, b["input_ids"][:, 1:, None])[..., 0]
    return (logps * b["completion_mask"][:, 1:]).sum(-1)


def plain_dpo(model, ref, batches, beta: float = 0.1) -> list[float]:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=torch.cuda.is_available())
    times = []
    for b in batches:
        b = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in b.items()}
        _sync()
        t = time.perf_counter()
        with torch.no_grad():
            ref_logps = _seq_logps(ref, b)
        logps = _seq_logps(model, b)
        n = logps.shape[0] // 2
        margin = (logps[:n] - ref_logps[:n]) - (logps[n:] - ref_logps[n:])
        loss = -F.logsigmoid(beta * margin).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync()
        times.append(time.perf_counter() - t)
    return times


def _result(stage, impl, tokens, times, model, seq_len, ref_factor: float = 1.0) -> Result:
    tps = sum(tokens) / sum(times)
    peak = peak_flops()
    mfu = tps * flops_per_token(model, seq_len) * ref_factor / peak if peak else None
    return Result(stage, impl, tps, mfu)


def main() -> None:
    cuda = torch.cuda.is_available()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SHAPES), default="0.5b" if cuda else "tiny")
    p.add_argument("--steps", type=int, default=10 if cuda else 4)
    p.add_argument("--warmup", type=int, default=3 if cuda else 1)
    p.add_argument("--seq-len", type=int, default=8192 if cuda else 512, help="packed row length (SFT)")
    p.add_argument("--sft-batch", type=int, default=4 if cuda else 2)
    p.add_argument("--dpo-batch", type=int, default=8 if cuda else 4)
    p.add_argument("--dpo-prompt", type=int, default=512 if cuda else 48)
    p.add_argument("--dpo-completion", type=int, default=1536 if cuda else 96)
    a = p.parse_args()
    torch.set_float32_matmul_precision("high")
    tok = train_tokenizer(["abcdefghijklmnopqrstuvwxyz0123456789+*= "], "char")
    print(
        f"device: {torch.cuda.get_device_name() if cuda else 'cpu'}; model {a.size}; peak bf16 "
        f"{(peak_flops() or 0) / 1e12:.0f} TFLOP/s"
        if cuda
        else f"device: cpu; model {a.size}; MFU n/a"
    )
    lo, hi = (256, 4096) if cuda else (16, 128)
    results = bench_sft(a.size, tok, a.steps, a.warmup, a.seq_len, a.sft_batch, lo, hi)
    results += bench_dpo(a.size, tok, a.steps, a.warmup, a.dpo_batch, a.dpo_prompt, a.dpo_completion)
    print(f"{'stage':<12}{'impl':<7}{'tokens/s':>12}{'MFU':>8}")
    for r in results:
        mfu = f"{100 * r.mfu:.1f}%" if r.mfu is not None else "-"
        print(f"{r.stage:<12}{r.impl:<7}{r.tokens_per_s:>12,.0f}{mfu:>8}")
    for stage in ("sft-packed", "dpo"):
        trl, plain = (r for r in results if r.stage == stage)
        print(f"{stage}: TRL / plain loop = {trl.tokens_per_s / plain.tokens_per_s:.2f}x")


if __name__ == "__main__":
    main()
