"""Figures: read-only numbers of products and money for the dashboards.

- `queries`: time put into each product and what its sales brought, per period;
  the Money page's totals, balances, payout batches and ledger head.

Imports `products`, `sales`, `payouts`, `ledger`, `money` and the lab's rollups;
writes nothing.
"""
