"""The lab's economic events as a Valueflows 1.0 JSON-LD graph, for anyone to read.

- `queries`: the rows behind the export, each loaded in one query, public fields only.
- `export`: building the graph's nodes from those rows.

Reads the tables of every other accounting package and of `app.lab`; nothing imports it
but the API.
"""
