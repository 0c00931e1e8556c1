"""The pure value-equation and split engine: import from here, not from the parts.

- `equation`: contribution kinds and units, rates, buckets, equations,
  `DEFAULT_EQUATION`, `points_by_contributor`.
- `allocation`: largest-remainder allocation of integer minor units with carries.
- `split`: `compute_split`, `reverse_split`, `compare_splits` and their results.
- `snapshots`: exact JSON forms (Fractions as "num/den") of splits, carries
  and equations.

No database, no HTTP: this package imports nothing outside itself but the
standard library. Callers load contributions, cap progress and carries, and
store the `SplitResult` (and its `carry_after`) themselves.
"""

from app.accounting.engine.equation import (
    COMMONS_FUND,
    DEFAULT_EQUATION,
    REST_BUCKET,
    Bucket,
    BucketMode,
    CitationMode,
    ContributionInput,
    ContributionKind,
    Equation,
    PointsTable,
    Rates,
    points_by_contributor,
)
from app.accounting.engine.snapshots import (
    carry_from_json,
    carry_to_json,
    equation_from_json,
    equation_to_json,
    fraction_from_json,
    fraction_to_json,
    fractions_from_json,
    fractions_to_json,
    split_from_json,
    split_to_json,
)
from app.accounting.engine.split import (
    BucketShare,
    Carry,
    SplitResult,
    compare_splits,
    compute_split,
    reverse_split,
)

__all__ = [
    "COMMONS_FUND",
    "DEFAULT_EQUATION",
    "REST_BUCKET",
    "Bucket",
    "BucketMode",
    "BucketShare",
    "Carry",
    "CitationMode",
    "ContributionInput",
    "ContributionKind",
    "Equation",
    "PointsTable",
    "Rates",
    "SplitResult",
    "carry_from_json",
    "carry_to_json",
    "compare_splits",
    "compute_split",
    "equation_from_json",
    "equation_to_json",
    "fraction_from_json",
    "fraction_to_json",
    "fractions_from_json",
    "fractions_to_json",
    "points_by_contributor",
    "reverse_split",
    "split_from_json",
    "split_to_json",
]
