"""Sales: what shops tell the ledger, and turning it into splits, refunds and holds.

- `tables`: webhook deliveries (the dedupe record), sales, lines, splits, carries, caps.
- `events`: `ShopEvent`, the one typed shape every shop's webhook or CSV becomes.
- `csv_import`: sales from a shop's CSV export as `ShopEvent`s.
- `line_splits`: splitting a sold line among its product's contributors, and reversing it.
- `apply`: applying shop events exactly once: sales, refunds, disputes.

Imports `engine`, `money`, `ledger`, `products`, `contributions` and `equations`
(the version in force); nothing from HTTP.
"""
