"""Problem sources: the builtin generator and importers for JSONL, parquet and HF datasets."""
