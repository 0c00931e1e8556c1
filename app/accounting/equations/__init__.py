"""Products' value equations as stored versions, and the preview of a sale under them.

- `tables`: the stored equation versions and the API's form of an equation.
- `versions`: adding a version, finding the one in force, showing them.
- `preview`: who would get what from a sale now, under one version or two.

The equation itself, and the split it drives, are the pure `app.accounting.engine`;
this package stores and selects them. Imports `engine`, `money`, `contributions`,
`sales.line_splits` (carries and cap progress for the preview) and `app.lab`.
"""
