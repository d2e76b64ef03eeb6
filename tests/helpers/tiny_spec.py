"""The smallest tiny student the tests build (seconds on 2 cores): one shape for every test that only
needs a real, randomly initialised Qwen2 with a locally trained character tokenizer."""

from train.tiny import TinySpec

SMALL = TinySpec(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    head_dim=16,
    intermediate_size=64,
)
