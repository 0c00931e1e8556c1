"""`labledger demo`: a small lab with a day of history, in an empty database."""

from __future__ import annotations

import typer

from app.cli.common import fail, load, ready_engine
from app.demo.cast import NotEmpty
from app.demo.run import run_demo


def demo() -> None:
    """Fill an EMPTY database with a demo lab and replay a day of devices and sales through it."""
    settings = load()
    engine = ready_engine(settings)
    try:
        report = run_demo(engine, settings)
    except NotEmpty as found:
        fail(
            f"this database already holds lab data ({found}); the demo only fills an empty one: "
            "try it on a new file with LABLEDGER_DATABASE_URL=sqlite:///./demo.db "
            "(run labledger db upgrade, then labledger demo)",
            code=1,
        )
    cast = report.cast
    sold = ", ".join(f"{n} {o}" for o, n in sorted(_tally(report.sales).items()))
    typer.echo(
        f"demo lab: {len(cast.people)} contributors with {cast.badges} badges, "
        f"{len(cast.machines)} machines, {len(cast.readers)} readers, 1 product with a value "
        "equation"
    )
    typer.echo(
        f"replayed {report.day:%Y-%m-%d} (UTC): {report.messages} device messages -> "
        f"{report.sessions} sessions, {report.runs} runs, {report.unknown_scans} unknown scan; "
        f"3 orders ({sold}) -> {report.shares} shares"
    )
    typer.echo(
        "next: labledger keys create --role admin --name me, then curl -H "
        f"'Authorization: Bearer <key>' http://{settings.http_host}:{settings.http_port}/api/v1/runs"
    )


def _tally(outcomes: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
