"""Problem dedup: exact (normalised-text hash, in DuckDB), then near-duplicates with MinHash on
datatrove's dedup pipeline (signature -> buckets -> clusters -> filter), so `--executor local|slurm|ray`
and `--tasks N` scale it out. Only the signature step is ours (numpy, see minhash.py); it writes
datatrove's signature files, and datatrove's own steps read them.

Each step returns the dropped rows with the id they duplicate, so the funnel can say why a row went.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import DedupConfig
from curate.minhash import MinhashParams
from lakehouse.errors import UserError
from scale import Resources, build_executor, wait_slurm

NEAR = pa.schema([("problem_id", pa.string()), ("kept_id", pa.string())])

# numbers, lone letters, operators: what tells two templated problems apart
_MATH_TOKEN = re.compile(r"\d+(?:\.\d+)?|(?<![^\W\d_])[^\W\d_](?![^\W\d_])|[-+*/^=<>×÷·]")


def exact_duplicates(con: duckdb.DuckDBPyConnection, table: str, key_col: str) -> pa.Table:
    """Rows of `table` (with a `row` column) whose key repeats an earlier row's: (row, <key>, kept_id),
    the kept row of a group being its first. For problems the key is problem_id, which the lake defines
    as the hash of the normalised text (lakehouse.ids: NFKC, lower case, whitespace collapsed), computed once
    when the problem was imported; a DuckDB hash aggregate then does the rest at millions of rows/s."""
    return con.sql(
        f"""
        WITH firsts AS (SELECT {key_col} AS key, min(row) AS first FROM {table} GROUP BY {key_col})
        SELECT t.row, t.{key_col}, t.{key_col} AS kept_id
        FROM {table} t JOIN firsts f ON f.key = t.{key_col}
        WHERE t.row <> f.first
        ORDER BY t.row
        """
    ).to_arrow_table()


def near_duplicates(problems: pa.Table, cfg: DedupConfig, work_dir: Path) -> pa.Table:
    """MinHash near-duplicates among `problems` (problem_id, problem[, answer]): (problem_id, kept_id), one
    kept problem per cluster. Runs datatrove's four stages on `cfg.executor` under `work_dir`. With an
    answer column, a pair whose gold answers differ is not a duplicate."""
    if problems.num_rows < 2:
        return NEAR.empty_table()
    shutil.rmtree(work_dir, ignore_errors=True)
    tasks = max(1, min(cfg.tasks, problems.num_rows))
    _write_inputs(problems, work_dir / "input", tasks)
    stages = _stages(cfg, work_dir, tasks)
    with _quiet_datatrove(work_dir / "datatrove.log"):
        _launch(cfg, stages, work_dir)
    found = _collect(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    if "answer" in problems.column_names:
        found = _keep_if_same_answer(found, problems)
    if cfg.same_math_tokens:
        found = _keep_if_same_math_tokens(found, problems)
    return found


def _keep_if_same_answer(found: pa.Table, problems: pa.Table) -> pa.Table:
    """Two problems with different gold answers are never duplicates of each other, however alike their
    words ("product of the roots" / "sum of the roots"; `88 \\div 4 \\div 2` / `88 \\div (4 \\div 2)`).
    Answers compare as text without spaces: an equal value written differently keeps both (the safe side)."""
    answer = dict(
        zip(problems.column("problem_id").to_pylist(), problems.column("answer").to_pylist(), strict=True)
    )

    def norm(a):
        return None if a is None else "".join(str(a).split())

    keep = [
        norm(answer[a]) == norm(answer[b])
        for a, b in zip(
            found.column("problem_id").to_pylist(), found.column("kept_id").to_pylist(), strict=True
        )
    ]
    return found.filter(pa.array(keep, pa.bool_()))


def math_tokens(text: str) -> list[str]:
    """The numbers, one-letter symbols and operators of a text in order, without the English words "a"
    and "I": "Arrange F, A, E, E" -> ["F", "A", "E", "E"]; "3/5 + x" -> ["3", "/", "5", "+", "x"]."""
    return [t for t in _MATH_TOKEN.findall(text or "") if t not in ("a", "I")]


def _keep_if_same_math_tokens(found: pa.Table, problems: pa.Table) -> pa.Table:
    """Templated problems that differ only in their numbers, letters or operators share most word
    shingles (operators are not words) but are different problems (different answers): a near-duplicate
    must also have the same math tokens as the problem it is said to repeat (rewording keeps them)."""
    text = dict(
        zip(problems.column("problem_id").to_pylist(), problems.column("problem").to_pylist(), strict=True)
    )
    keep = [
        math_tokens(text[a]) == math_tokens(text[b])
        for a, b in zip(
            found.column("problem_id").to_pylist(), found.column("kept_id").to_pylist(), strict=True
        )
    ]
    return found.filter(pa.array(keep, pa.bool_()))


@contextlib.contextmanager
def _quiet_datatrove(log_path: Path):
    """datatrove logs every task to stderr (here and in worker processes): send file descriptor 2 to a
    log file in the work dir for the duration, so the command's own output stays readable."""
    from datatrove.utils.logging import logger

    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_path, "a") as log, contextlib.redirect_stderr(log):  # sys.stderr: datatrove's task logger
        os.dup2(log.fileno(), 2)  # fd 2: worker processes
        logger.remove()
        logger.add(log, level="INFO")
        try:
            yield
        finally:
            log.flush()
            os.dup2(saved, 2)
            os.close(saved)
            logger.remove()
            logger.add(sys.__stderr__, level="WARNING")


def minhash_config(cfg: DedupConfig):
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.utils.hashing import HashConfig

    # 32-bit signatures: what our signature step writes (datatrove reads the width from this config).
    return MinhashConfig(
        n_grams=cfg.n_grams,
        num_buckets=cfg.bands,
        hashes_per_bucket=cfg.rows,
        seed=cfg.seed,
        hash_config=HashConfig(precision=32),
    )


def params_of(cfg: DedupConfig) -> MinhashParams:
    return MinhashParams(cfg.n_grams, cfg.bands, cfg.rows, cfg.seed, cfg.norm_numbers)


def _write_inputs(problems: pa.Table, folder: Path, tasks: int) -> None:
    """One parquet file per task: datatrove's reader gives rank r the r-th file."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, problems.num_rows, tasks + 1).astype(int)
    for i in range(tasks):
        part = problems.slice(bounds[i], bounds[i + 1] - bounds[i]).select(["problem_id", "problem"])
        pq.write_table(part, folder / f"{i:05d}.parquet")


def _stages(cfg: DedupConfig, work: Path, tasks: int) -> list[tuple[str, list, int]]:
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    from curate.minhash_step import NumpyMinhashSignature

    mh = minhash_config(cfg)

    def reader():
        return ParquetReader(
            str(work / "input"), text_key="problem", id_key="problem_id", glob_pattern="*.parquet"
        )

    def writer(folder: str):
        return ParquetWriter(str(work / folder), output_filename="${rank}.parquet", adapter=_cluster_row)

    return [
        ("signature", [reader(), NumpyMinhashSignature(str(work / "sigs"), params_of(cfg))], tasks),
        ("buckets", [MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=mh)], cfg.bands),
        (
            "clusters",
            [
                MinhashDedupCluster(
                    str(work / "buckets"), str(work / "remove"), config=mh, save_cluster_id=True
                )
            ],
            1,
        ),
        (
            "filter",
            [
                functools.partial(_ensure_cluster_files, str(work / "remove")),
                reader(),
                MinhashDedupFilter(
                    str(work / "remove"), exclusion_writer=writer("removed"), load_cluster_ids=True
                ),
                writer("kept"),
            ],
            tasks,
        ),
    ]


def _cluster_row(writer, document) -> dict:
    return {"problem_id": document.id, "cluster": int(document.metadata.get("minhash_cluster_id", -1))}


def _ensure_cluster_files(folder: str, data, rank: int = 0, world_size: int = 1):
    """datatrove's filter needs a .clusters file for every rank once cluster ids are asked for, but the
    cluster step writes one only for ranks with duplicates: give the others empty files."""
    Path(folder).mkdir(parents=True, exist_ok=True)  # absent when no cluster was found at all
    for suffix in ("remove", "clusters"):
        Path(folder, f"{rank:06d}.{suffix}").touch(exist_ok=True)
    return data


def _launch(cfg: DedupConfig, stages: list[tuple[str, list, int]], work: Path) -> None:
    previous = None
    for name, pipeline, tasks in stages:
        previous = _executor(cfg, name, pipeline, tasks, work / "logs" / name, previous)
    previous.run()
    if cfg.executor == "slurm":  # sbatch returns at once: wait until the chain of stage jobs left the queue
        done = wait_slurm(previous)
        if done < stages[-1][2]:
            raise UserError(
                f"near-dup dedup on Slurm: {stages[-1][2] - done} of {stages[-1][2]} filter tasks did not "
                f"complete (logs in {work / 'logs'}); re-run the same command to finish them"
            )


def _executor(cfg: DedupConfig, name: str, pipeline: list, tasks: int, logs: Path, depends):
    if cfg.executor == "slurm" and not cfg.slurm_partition:
        raise UserError("--executor slurm needs dedup.slurm_partition in the config")
    resources = Resources(
        workers=max(1, cfg.workers) if cfg.executor == "local" else -1,  # --workers is the local executor's
        slurm_partition=cfg.slurm_partition,
        slurm_time=cfg.slurm_time,
        slurm_qos=cfg.slurm_qos,
        job_name=f"minhash-{name}",
    )
    return build_executor(cfg.executor, pipeline, tasks, logs, resources, depends=depends)


def _collect(work: Path) -> pa.Table:
    """Map every removed problem to the kept member of its cluster."""
    removed = _read_folder(work / "removed")
    if removed.num_rows == 0:
        return NEAR.empty_table()
    kept = _read_folder(work / "kept")
    con = duckdb.connect()
    con.register("removed", removed)
    con.register("kept", kept)
    return (
        con.sql(
            """SELECT r.problem_id, k.problem_id AS kept_id FROM removed r
           JOIN kept k ON k.cluster = r.cluster AND k.cluster >= 0 ORDER BY r.problem_id"""
        )
        .to_arrow_table()
        .cast(NEAR)
    )


def _read_folder(folder: Path) -> pa.Table:
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return pa.table({"problem_id": pa.array([], pa.string()), "cluster": pa.array([], pa.int64())})
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
