"""The money side of the lab: from contributions to exact payouts on a verifiable ledger.

One package per concept, each saying at its top what it owns and what it imports:

- `money`: integer minor units of a currency, parsing and formatting (every package uses it).
- `engine`: the pure value-equation and split engine (no database, no HTTP).
- `products`: products and their SKUs.
- `contributions`: labour, machine hours, money, materials and citations per product.
- `equations`: stored value-equation versions of products, and the sale preview.
- `sales`: shop events, the CSV import, line splits, and applying events exactly once.
- `ledger`: the append-only, double-entry, hash-chained ledger.
- `payouts`: balances and the batches that settle them.
- `valueflows`: the public Valueflows export.

Tables sit below the services that use them; the engine imports nothing from the
database layer; nothing here imports `app.api`, `app.web` or `app.ingest`.
"""
