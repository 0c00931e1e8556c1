"""`labledger import-sales` for shops without webhooks: a CSV export, imported once."""

from __future__ import annotations

import os
import subprocess
import sys

CSV = """order,date,currency,sku,quantity,amount_major,fees_major,refunded,description
T-1001,2026-04-01T10:00:00Z,USD,BOARD-R1,1,25.00,1.50,,Board
T-1001,2026-04-01T10:00:00Z,USD,STICKER,2,3.00,1.50,,Stickers
T-1002,2026-04-02T11:00:00Z,USD,BOARD-R1,1,25.00,1.30,25.00,Board (refunded)
"""


def run_import(path, database_url):
    env = {**os.environ, "LABLEDGER_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", "import-sales", str(path), "--provider", "tindie"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_csv_export_is_imported_once(money_lab, database_url, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    first = run_import(path, database_url)
    assert first.returncode == 0, first.stderr
    assert "sale_recorded" in first.stdout and "refund_applied" in first.stdout
    balances = money_lab.balances("USD")
    # T-1001's 1.50 fee falls on its lines as 25.00 : 3.00 -> 1.34 and 0.16; T-1002 is refunded whole.
    assert sum(balances.values()) == 2500 - 134
    unallocated = money_lab.client.get(
        "/api/v1/sale-lines/unallocated", headers=money_lab.admin
    ).json()["items"]
    assert [line["sku"] for line in unallocated] == ["STICKER"]
    again = run_import(path, database_url)
    assert again.returncode == 0 and "duplicate" in again.stdout
    assert money_lab.balances("USD") == balances
    assert money_lab.client.get("/api/v1/sales", headers=money_lab.admin).json()["total"] == 2


def test_a_bad_row_is_named(money_lab, database_url, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "order,date,currency,sku,quantity,amount_major\nT-1,2026-04-01,USD,X,one,1.00\n"
    )
    result = run_import(path, database_url)
    assert result.returncode == 2
    assert "quantity" in result.stderr and "2" in result.stderr
