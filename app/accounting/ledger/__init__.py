"""The ledger: append-only, double-entry, hash-chained postings of every movement of money.

- `tables`: the ledger's table, one row per posting.
- `chain`: pure functions for the hash chain (canonical form, hashes, checks).
- `postings`: posting balanced transactions, balances, verification and export.

Imports only `app.accounting.money`, `app.db` and `app.errors`: every other
accounting package posts through it, and it knows none of them.
"""
