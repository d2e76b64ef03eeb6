"""Registry of builtin problem families: name -> Family. `builtin:arith` means all of them."""

from __future__ import annotations

from problemsets.families import arithmetic, chain, counting, fraction, linear, modular, system
from problemsets.families.base import Family

FAMILIES: dict[str, Family] = {
    m.FAMILY.name: m.FAMILY for m in (arithmetic, fraction, linear, system, modular, counting, chain)
}
LEVELS = (1, 2, 3, 4, 5)
