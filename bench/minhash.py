"""MinHash signatures/s on 8k-word documents: curate's numpy signer vs datatrove's own
`MinhashDedupSignature` (and datasketch when installed), on the same documents in one run; then the
LSH recall of near-duplicate pairs at Jaccard 0.80-0.85 with each one's band layout.

    python bench/minhash.py [--docs 40 --words 8000 --pairs 60]

Goal: >= 7x datatrove's signatures/s with recall >= 0.95 at J >= 0.8.
Documents are drawn from the words of the real benchmark problems (problemsets/data), so word
lengths and frequencies are those of maths text. datatrove's English word tokenizer needs spaCy, which
the project does not install; datatrove then gets a whitespace tokenizer, its fastest possible one,
so the ratio printed is a lower bound of the speed-up over its default configuration.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time

import numpy as np

from curate.config import DEFAULT_BENCHMARK_DIR, DedupConfig
from curate.minhash import MinhashParams, MinhashSigner


def vocabulary() -> list[str]:
    words: list[str] = []
    for path in sorted(DEFAULT_BENCHMARK_DIR.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            words += str(row.get("problem") or row.get("question") or "").split()
    return words or [f"w{i}" for i in range(20000)]


def documents(n: int, words: int, vocab: list[str], rng: random.Random) -> list[str]:
    return [" ".join(rng.choices(vocab, k=words)) for _ in range(n)]


def paraphrase(text: str, jaccard: float, rng: random.Random) -> str:
    """Insert single words at distinct places: each insertion removes 4 of the n=5 shingles spanning
    the gap and adds 5, so J = (N - 4k) / (N + 5k) gives the number k of insertions."""
    words = text.split()
    k = int(len(words) * (1 - jaccard) / (4 + 5 * jaccard))
    for pos in sorted(rng.sample(range(1, len(words)), k), reverse=True):
        words.insert(pos, rng.choice(["then", "also", "thus", "hence", "now"]))
    return " ".join(words)


class WhitespaceTokenizer:
    """Built lazily as a datatrove WordTokenizer subclass (datatrove is imported only here)."""

    @staticmethod
    def make():
        from datatrove.utils.word_tokenizers import WordTokenizer

        class _WS(WordTokenizer):
            def word_tokenize(self, text: str) -> list[str]:
                return text.split()

            def sent_tokenize(self, text: str) -> list[str]:
                return [text]

            def span_tokenize(self, text: str) -> list[tuple[int, int]]:
                return [(0, len(text))]

        return _WS()


def datatrove_step(folder: str):
    from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

    try:
        import spacy  # noqa: F401

        return MinhashDedupSignature(folder), "spaCy (datatrove's default)"
    except ImportError:
        return MinhashDedupSignature(
            folder, language=WhitespaceTokenizer.make()
        ), "whitespace (spaCy not installed)"


def rates(fns: dict, docs: list[str]) -> dict[str, float]:
    """Signatures/s of each function; they take turns document by document, so a change in the load of
    the machine during the run affects all of them alike."""
    for fn in fns.values():
        fn(docs[0])  # warm-up (lazy tables, imports)
    spent = dict.fromkeys(fns, 0.0)
    for d in docs:
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(d)
            spent[name] += time.perf_counter() - start
    return {name: len(docs) / t for name, t in spent.items()}


def found(sig_a: np.ndarray, sig_b: np.ndarray, bands: int, rows: int) -> bool:
    a, b = np.asarray(sig_a).reshape(bands, rows), np.asarray(sig_b).reshape(bands, rows)
    return bool((a == b).all(axis=1).any())


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=40)
    ap.add_argument("--words", type=int, default=8000)
    ap.add_argument("--pairs", type=int, default=100)
    args = ap.parse_args()
    rng = random.Random(0)
    vocab = vocabulary()
    docs = documents(args.docs, args.words, vocab, rng)
    cfg = DedupConfig()
    ours = MinhashSigner(MinhashParams(cfg.n_grams, cfg.bands, cfg.rows, cfg.seed))
    with tempfile.TemporaryDirectory() as tmp:
        dt, tokenizer = datatrove_step(tmp)
        fns = {
            "curate (numpy)": ours.signature,
            "datatrove": lambda d: dt.get_signature(dt.get_shingles(d)),
        }
        try:
            from datasketch import MinHash

            def sketch(d: str) -> None:
                m = MinHash(num_perm=cfg.bands * cfg.rows)
                m.update_batch(
                    [" ".join(g).encode() for g in zip(*(d.split()[i:] for i in range(5)), strict=False)]
                )

            fns["datasketch"] = sketch
        except ImportError:
            print("datasketch: not installed (pip install datasketch to include it)")
        speeds = rates(fns, docs)
        print(f"{args.docs} documents x {args.words} words; datatrove tokenizer: {tokenizer}")
        for name, s in speeds.items():
            print(f"  {name:<16} {s:8.1f} signatures/s")
        ratio = speeds["curate (numpy)"] / speeds["datatrove"]
        print(f"ratio curate/datatrove: {ratio:.1f}x (goal >= 7x: {'met' if ratio >= 7 else 'NOT met'})")
        recall(args, rng, vocab, ours, dt, cfg)


def recall(args, rng, vocab, ours: MinhashSigner, dt, cfg: DedupConfig) -> None:
    hits = {"curate": 0, "datatrove": 0}
    js = []
    while len(js) < args.pairs:
        a = documents(1, args.words, vocab, rng)[0]
        b = paraphrase(a, rng.uniform(0.78, 0.85), rng)
        sa, sb = set(ours.shingles(a).tolist()), set(ours.shingles(b).tolist())
        if len(sa & sb) / len(sa | sb) < 0.8:
            continue  # only pairs at J >= 0.8 count
        js.append(len(sa & sb) / len(sa | sb))
        hits["curate"] += found(ours.signature(a), ours.signature(b), cfg.bands, cfg.rows)
        da = np.concatenate(dt.get_signature(dt.get_shingles(a)))
        db = np.concatenate(dt.get_signature(dt.get_shingles(b)))
        hits["datatrove"] += found(da, db, dt.config.num_buckets, dt.config.hashes_per_bucket)
    print(f"recall on {args.pairs} pairs, measured Jaccard {min(js):.3f}-{max(js):.3f}:")
    print(f"  curate ({cfg.bands} bands x {cfg.rows} rows): {hits['curate'] / args.pairs:.3f} (goal >= 0.95)")
    layout = f"{dt.config.num_buckets} x {dt.config.hashes_per_bucket}"
    print(f"  datatrove ({layout}, its default): {hits['datatrove'] / args.pairs:.3f}")


if __name__ == "__main__":
    run()
