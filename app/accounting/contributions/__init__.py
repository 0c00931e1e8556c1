"""Contributions: what each person, machine and funder put into a product.

- `tables`: the contribution table and its vocabulary (kinds, units, sources, statuses).
- `schemas`: what the contributions API accepts and shows.
- `derived`: labour and machine hours derived from the lab's sessions and runs.
- `inputs`: approved contributions up to a moment, in the split engine's units.
- `service`: hand-entered contributions, decisions on them, and listing.

Imports `app.accounting.engine`, `app.accounting.money`, `app.accounting.products`,
`app.accounting.equations` (the equation in force) and `app.lab`; nothing above it.
"""
