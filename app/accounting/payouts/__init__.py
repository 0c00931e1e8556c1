"""Payouts: balances owed to contributors, and the batches that settle them.

- `tables`: payout batches and their items.
- `service`: balances, making a batch, exporting it, marking it paid once.

Imports `money`, `ledger` and `sales.line_splits` (the payable account names).
"""
