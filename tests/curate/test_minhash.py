"""The numpy MinHash signer and n-gram hasher: normalisation, determinism across processes, estimates,
and signature files that datatrove's buckets step reads."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from curate.config import DedupConfig
from curate.dedup import minhash_config
from curate.minhash import MinhashParams, MinhashSigner, jaccard
from curate.ngrams import NgramHasher, words

TEXT = "Let $f(x) = x^2 + 3x$. Find f(2) — the value “at two”; Café naïve ﬁne ＡＢ."


def test_words_are_lower_case_letter_digit_runs():
    assert words(TEXT) == [
        "let",
        "f",
        "x",
        "x",
        "2",
        "3x",
        "find",
        "f",
        "2",
        "the",
        "value",
        "at",
        "two",
        "café",
        "naïve",
        "fine",
        "ab",
    ]
    assert words("Snake_case, 3.5 and 10,000") == ["snake", "case", "3", "5", "and", "10", "000"]


@pytest.mark.parametrize("other", [TEXT.upper(), TEXT.replace(" ", "\n  "), TEXT.replace("$", "\\(")])
def test_reformatting_does_not_change_the_ngrams(other):
    hasher = NgramHasher(5)
    assert np.array_equal(hasher.hashes(TEXT), hasher.hashes(other))


def test_word_hashes_do_not_depend_on_position():
    hasher = NgramHasher(1)
    a, b = hasher.hashes("alpha beta gamma"), hasher.hashes("gamma alpha beta")
    assert list(a) == [b[1], b[2], b[0]]


def test_short_texts_are_one_whole_ngram():
    hasher = NgramHasher(13)
    assert hasher.hashes("compute binom 31 28").size == 1
    assert hasher.hashes("compute binom 31 28")[0] != hasher.hashes("compute binom 31 27")[0]
    assert hasher.hashes("!!! ...").size == 0
    assert MinhashSigner().signature("!!!") is None


def test_signatures_are_identical_in_another_process_with_another_hash_seed():
    code = f"from curate.minhash import MinhashSigner; print(MinhashSigner().signature({TEXT!r}).tolist())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == str(MinhashSigner().signature(TEXT).tolist())


def test_signature_agreement_estimates_jaccard():
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(5000)]
    signer = MinhashSigner(MinhashParams(bands=32, rows=8))  # 256 hashes: standard error about 0.03
    errors = []
    for _ in range(20):
        base = list(rng.choice(vocab, 300))
        other = base[:150] + list(rng.choice(vocab, 150))
        a, b = " ".join(base), " ".join(other)
        true = jaccard(set(signer.shingles(a).tolist()), set(signer.shingles(b).tolist()))
        errors.append(float(np.mean(signer.signature(a) == signer.signature(b))) - true)
    assert abs(np.mean(errors)) < 0.02
    assert np.max(np.abs(errors)) < 0.12


def test_datatrove_reads_our_signature_files(tmp_path):
    """Our signature step's files go through datatrove's own buckets step: a pair of identical texts
    in two tasks is reported as a duplicate pair in every band."""
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets
    from datatrove.utils.binaryio import read_tuples_from_file

    from curate.minhash_step import NumpyMinhashSignature

    cfg = DedupConfig(bands=4, rows=3)
    step = NumpyMinhashSignature(
        str(tmp_path / "sigs"), MinhashParams(cfg.n_grams, cfg.bands, cfg.rows, cfg.seed)
    )
    docs = {0: ["one two three four five six", TEXT], 1: ["something else entirely here now", TEXT]}
    for rank, texts in docs.items():
        step.run((Document(text=t, id=str(i)) for i, t in enumerate(texts)), rank=rank, world_size=2)
    for band in range(cfg.bands):
        MinhashDedupBuckets(str(tmp_path / "sigs"), str(tmp_path / "dups"), config=minhash_config(cfg)).run(
            rank=band, world_size=cfg.bands
        )
        with open(tmp_path / "dups" / f"{band:05d}_00.dups", "rb") as f:
            assert list(read_tuples_from_file(f, "4I")) == [(0, 1, 1, 1)]  # (task, doc) pairs
