"""Products the lab sells, each under one or more SKUs.

- `tables`: the product and SKU tables and their API schemas.
- `service`: creating, updating and listing products, independent of HTTP.

Imports only `app.db`, `app.fields`, `app.errors`, `app.crud` and `app.lab`.
"""
