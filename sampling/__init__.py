"""The sampling layer below synth and train: request/completion types, the backends (openai:, vllm:,
hf:), checkpoint loading, and the one rule for prompts, assistant text and per-sample seeds.

Imports only lakehouse; torch/transformers/vllm/openai load lazily inside the backend that needs them,
so importing `sampling` (or `sampling.prompts`) stays cheap. Nothing is imported here on purpose."""
