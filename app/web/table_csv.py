"""Any table a page shows, as CSV: the page is rendered as usual and its table read back.

`?csv=<table id>` on a page's own address answers that table's rows, so the
download always has the page's filters, limits and order, and a new table needs
only an id and a link. Cells are the text the page shows; form controls (the
actions on Review) and cells marked `data-csv="skip"` are left out.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlencode

from starlette.requests import Request

# Their text is a control's, not the table's (option lists, button labels, live results).
_NOT_DATA = {"form", "select", "option", "button", "output", "script", "style", "input"}
_VOID = {"input", "br", "img", "hr", "meta", "link", "wbr", "col", "source"}


class _TableReader(HTMLParser):
    """Collects the header and body rows of the one table with the given id."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id = table_id
        self.found = False
        self.depth = 0  # how deep inside the wanted table (0: outside)
        self.hidden = 0  # how deep inside a control or a skipped cell
        self.rows: list[list[str]] = []
        self.empty: set[int] = set()  # rows that say the table has none ("No runs yet.")
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.depth == 0:
            if tag == "table" and found.get("id") == self.table_id and not self.found:
                self.found, self.depth = True, 1
            return
        if tag in _VOID:
            if tag == "br" and self.cell is not None and not self.hidden:
                self.cell.append(" ")
            return
        self.depth += 1
        if self.hidden:
            self.hidden += 1
        elif tag in _NOT_DATA or found.get("data-csv") == "skip":
            self.hidden = 1
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self.cell = []
            if "empty" in (found.get("class") or "").split():
                self.empty.add(len(self.rows) - 1)

    def handle_endtag(self, tag: str) -> None:
        if self.depth == 0 or tag in _VOID:
            return
        self.depth -= 1
        if self.hidden:
            self.hidden -= 1
            return
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.depth and not self.hidden and self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[list[str]] | None:
    """The rows (header first) of the table with this id, or None when the page has none."""
    reader = _TableReader(table_id)
    reader.feed(html)
    reader.close()
    if not reader.found:
        return None
    return [row for i, row in enumerate(reader.rows) if i not in reader.empty]


def csv_href(request: Request, table_id: str) -> str:
    """This page's address, with its filters, asking for one of its tables as CSV."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "csv"]
    return f"{request.url.path}?{urlencode([*params, ('csv', table_id)])}"
