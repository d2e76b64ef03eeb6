"""What a completion costs, and a budget that never lets the bill pass its cap.

Prices are USD per 1M tokens (input, output). `--price-in/--price-out` win; otherwise a small table of
known hosted models (list prices; check your provider's page, they change); otherwise 0 (self-hosted).
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.errors import UserError

# (input, output) USD per 1M tokens, list prices of common reasoning teachers (cache-miss input price).
KNOWN_PRICES: dict[str, tuple[float, float]] = {
    "deepseek-reasoner": (0.55, 2.19),
    "deepseek-chat": (0.27, 1.10),
    "deepseek-ai/DeepSeek-R1": (0.55, 2.19),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}


@dataclass(frozen=True)
class Prices:
    input_per_m: float
    output_per_m: float

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input_per_m + completion_tokens * self.output_per_m) / 1e6


def resolve_prices(
    model: str, price_in: float | None, price_out: float | None, budget_usd: float | None
) -> Prices:
    """Prices from the flags, else the table; a budget without known prices is a user error
    (a budget that counts every request as free would never stop)."""
    if (price_in is None) != (price_out is None):
        raise UserError("give both --price-in and --price-out (USD per 1M tokens), or neither")
    if price_in is not None:
        if price_in < 0 or price_out < 0:
            raise UserError("--price-in/--price-out must be >= 0")
        return Prices(price_in, price_out)
    if model in KNOWN_PRICES:
        return Prices(*KNOWN_PRICES[model])
    if budget_usd is not None:
        raise UserError(
            f"--budget-usd needs prices: model {model!r} is not in the price table; give --price-in and --price-out"
        )
    return Prices(0.0, 0.0)


class Budget:
    """Reserve-then-settle accounting. Before a request goes out, its worst-case cost (prompt plus
    max_tokens at list price) is reserved; when it returns, the reservation is replaced by the actual
    cost. A request that does not fit next to what is spent and reserved is not sent, so the total
    never passes the cap, and stopping leaves less than one request's worst-case cost unused."""

    def __init__(self, limit_usd: float | None):
        if limit_usd is not None and limit_usd < 0:
            raise UserError("--budget-usd must be >= 0")
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self.reserved_usd = 0.0

    def try_reserve(self, usd: float) -> bool:
        if self.limit_usd is not None and self.spent_usd + self.reserved_usd + usd > self.limit_usd:
            return False
        self.reserved_usd += usd
        return True

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved_usd = max(0.0, self.reserved_usd - reserved)
        self.spent_usd += actual
