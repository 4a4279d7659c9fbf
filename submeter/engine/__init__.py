"""Pure rating engine: money, tariffs, time-of-use calendars, tiers, demand and power-factor rules.

Nothing here imports Django. The public API, for the Django apps and the CLI:

* `parse_tariff(document) -> Tariff`; `Tariff.version_at(instant)` / `version_in_force`
* `parse_usage(document, tariff) -> Usage`, or build a `Usage` directly
* `rate(tariff, usage) -> Bill` (lines, total); `quote(tariff_doc, usage_doc) -> dict` for JSON
* `submeter.engine.meter_days.rate_meter_days(...)`: vectorised bulk rating (needs numpy, so it
  is not imported here)
* `round_fen`, `FenRounder`, `LineRounder`, `split_topup`: money and posting
* `EngineError` (`TariffError`, `UsageError`): code, message, field
"""

from submeter.engine.bill import Bill, BillLine, LineKind, PowerFactorOutcome
from submeter.engine.errors import EngineError, TariffError, UsageError
from submeter.engine.money import FenRounder, LineRounder, TopupSplit, round_fen, split_topup
from submeter.engine.quote import bill_document, quote
from submeter.engine.rating import rate
from submeter.engine.schema import load_schema
from submeter.engine.tariff import Tariff, TariffVersion, version_in_force
from submeter.engine.tariff_document import parse_tariff
from submeter.engine.usage import Interval, Usage, parse_usage

__all__ = [
    "Bill",
    "BillLine",
    "EngineError",
    "FenRounder",
    "Interval",
    "LineKind",
    "LineRounder",
    "PowerFactorOutcome",
    "Tariff",
    "TariffError",
    "TariffVersion",
    "TopupSplit",
    "Usage",
    "UsageError",
    "bill_document",
    "load_schema",
    "parse_tariff",
    "parse_usage",
    "quote",
    "rate",
    "round_fen",
    "split_topup",
    "version_in_force",
]
