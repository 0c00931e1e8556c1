"""Contributions: what each person, machine and funder put into a product.

- `tables`: the contribution table and its vocabulary (kinds, units, sources, statuses).
- `schemas`: what the contributions API accepts and shows.
- `derived`: labour and machine hours derived from the lab's sessions and runs.
- `at_commit`: derives what a transaction closed, in it, just before it commits.
- `inputs`: approved contributions up to a moment, in the split engine's units.
- `service`: hand-entered contributions, decisions on them, and listing.

Imports `app.accounting.engine`, `app.accounting.money`, `app.accounting.products`,
`app.accounting.equations` (the equation in force) and `app.lab`; nothing above it.
Importing the package (as `app.tables` does, so every process that knows the
contribution table) registers the commit hook of `at_commit`.
"""

from app.accounting.contributions import at_commit as at_commit
