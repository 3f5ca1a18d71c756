"""Numbers as people write them on a page, in a form or in a message."""
from __future__ import annotations

from decimal import Decimal
from typing import Any


def plain_number(value: Any) -> str:
    """A score as people write it: 72.50 -> '72.5', 100.00 -> '100' (None -> '')."""
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(number.normalize(), "f")
