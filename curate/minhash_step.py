"""The signature stage of datatrove's MinHash dedup, computed with our numpy signer.

It writes exactly what datatrove's `MinhashDedupSignature` writes (per band, records of `rows` uint32
hashes plus the document's index within the task, sorted), so `MinhashDedupBuckets` reads it as is.
"""

from __future__ import annotations

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.typeshelper import StatHints

from curate.minhash import MinhashParams, MinhashSigner


class NumpyMinhashSignature(PipelineStep):
    type = "🫂 - DEDUP"
    name = "🎯 MinHash stage 1 (numpy signatures)"

    def __init__(self, output_folder: DataFolderLike, params: MinhashParams):
        super().__init__()
        self.output_folder = get_datafolder(output_folder)
        self.params = params

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> None:
        signer = MinhashSigner(self.params)
        sigs, doc_ids = [], []
        with self.track_time():
            for doc_idx, doc in enumerate(data):
                self.stat_update(StatHints.total)
                sig = signer.signature(doc.text)
                if sig is not None:  # a text without words has no shingles: it can duplicate nothing
                    sigs.append(sig)
                    doc_ids.append(doc_idx)
            matrix = np.stack(sigs) if sigs else np.zeros((0, self.params.num_hashes), dtype=np.uint32)
            for band in range(self.params.bands):
                self._write_band(band, rank, matrix, np.asarray(doc_ids, dtype=np.uint32))

    def _write_band(self, band: int, rank: int, matrix: np.ndarray, doc_ids: np.ndarray) -> None:
        rows = self.params.rows
        dtype = np.dtype([(f"h{i}", "<u4") for i in range(rows)] + [("doc", "<u4")])
        records = np.empty(len(doc_ids), dtype=dtype)
        for i in range(rows):
            records[f"h{i}"] = matrix[:, band * rows + i]
        records["doc"] = doc_ids
        records.sort(order=list(dtype.names))  # datatrove's buckets step merges sorted files
        with self.output_folder.open(f"bucket_{band:03d}/{rank:05d}.minhash.sig", mode="wb") as f:
            f.write(records.tobytes())
