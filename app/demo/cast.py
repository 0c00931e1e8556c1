"""Who and what the demo lab holds, made through the lab's and the products' own services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from app.accounting.equations import versions as value_equations
from app.accounting.equations.tables import BucketIn, EquationCreate, RatesIn
from app.accounting.products.service import create_product
from app.accounting.products.tables import Product, ProductCreate
from app.accounting.sales.tables import Sale
from app.lab import service
from app.lab.activity import DeviceEvent
from app.lab.models import (
    COMMONS_FUND_ID,
    Adapter,
    BadgeCreate,
    Contributor,
    ContributorCreate,
    Machine,
    MachineCreate,
    MachineKind,
    Reader,
    ReaderCreate,
)

KIT_SKUS = ("AQ-KIT-1", "AQ-CASE")
FUNDER = "Fab Fund Coop"

# name, role, cards (printed numbers, RDM6300 hex or 13.56 MHz UIDs, as readers send them)
PEOPLE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Ada Moreau", "designer", ("0012771493",)),
    ("Bilal Haddad", "maker", ("0F00C2E0B7",)),
    ("Chen Wei", "maker", ("0004412377", "04A224B2C35E80")),
    ("Dana Okafor", "technician", ("0003399120",)),
    (FUNDER, "funder", ()),
)

# name, kind, adapter, address, provider, running threshold (W)
MACHINES: tuple[tuple[str, MachineKind, Adapter, str, str | None, float | None], ...] = (
    ("X1C-1", MachineKind.PRINTER, Adapter.BAMBU, "01S00C371700001", FUNDER, None),
    ("X1C-2", MachineKind.PRINTER, Adapter.BAMBU, "01S00C371700002", FUNDER, None),
    ("Voron 2.4", MachineKind.PRINTER, Adapter.MOONRAKER, "voron1", "Bilal Haddad", None),
    ("Laser cutter", MachineKind.LASER, Adapter.TASMOTA, "laser-plug", None, 40.0),
)

# reader name (its lab/v1 topic segment), machine (None: the door), tagged with the kit
READERS: tuple[tuple[str, str | None], ...] = (
    ("x1c-1-reader", "X1C-1"),
    ("x1c-2-reader", "X1C-2"),
    ("voron-reader", "Voron 2.4"),
    ("laser-reader", "Laser cutter"),
    ("door", None),
)


class NotEmpty(Exception):
    """The database holds lab data already; the demo will not mix with it."""


@dataclass
class Cast:
    """Ids of what the demo made, by name."""

    people: dict[str, int] = field(default_factory=dict)
    machines: dict[str, int] = field(default_factory=dict)
    readers: dict[str, int] = field(default_factory=dict)
    product_id: int = 0
    badges: int = 0


def existing_data(db: Session) -> dict[str, int]:
    """How many rows of real lab data the database holds (API keys do not count)."""
    counts = {
        "contributors": db.exec(
            select(func.count()).where(col(Contributor.is_commons_fund).is_(False))
        ).one(),
        "machines": db.exec(select(func.count()).select_from(Machine)).one(),
        "readers": db.exec(select(func.count()).select_from(Reader)).one(),
        "products": db.exec(select(func.count()).select_from(Product)).one(),
        "device events": db.exec(select(func.count()).select_from(DeviceEvent)).one(),
        "sales": db.exec(select(func.count()).select_from(Sale)).one(),
    }
    return {name: int(n) for name, n in counts.items() if n}


def equation(funder_id: int, effective_from: datetime) -> EquationCreate:
    """The kit's value equation: commons fund, a capped equipment funder, labour by role."""
    return EquationCreate(
        effective_from=effective_from,
        rates=RatesIn(
            labour_per_hour="1",
            labour_by_role={"designer": "1.5", "technician": "1.2"},
            machine_per_hour="0.5",
            machine_by_kind={MachineKind.LASER: "1"},
        ),
        buckets=[
            BucketIn(name="commons", mode="straight", percent="10", paid_to="commons_fund"),
            BucketIn(
                name="printer fund",
                mode="straight",
                percent="15",
                paid_to="contributor",
                contributor_id=funder_id,
                cap="1500.00",
            ),
            BucketIn(name="makers", mode="remaining", percent="100"),
        ],
        cap_currency="EUR",
        note="demo: 10 % commons, 15 % to the printer fund until 1500 EUR is paid back",
    )


def make_cast(db: Session, effective_from: datetime) -> Cast:
    """Create the demo lab, or NotEmpty when the database holds lab data."""
    found = existing_data(db)
    if found:
        raise NotEmpty(", ".join(f"{n} {name}" for name, n in found.items()))
    cast = Cast()
    for name, role, cards in PEOPLE:
        person = service.create_contributor(db, ContributorCreate(name=name, role=role))
        assert person.id is not None
        cast.people[name] = person.id
        for card in cards:
            service.enrol_badge(db, BadgeCreate(card_id=card, contributor_id=person.id))
            cast.badges += 1
    product = create_product(
        db,
        ProductCreate(
            name="Air quality sensor kit",
            description="Open-hardware CO2/PM2.5 sensor: printed case, laser-cut lid, PCB.",
            skus=list(KIT_SKUS),
        ),
    )
    assert product.id is not None
    cast.product_id = product.id
    value_equations.add_version(
        db, product.id, equation(cast.people[FUNDER], effective_from), "demo"
    )
    for name, kind, adapter, address, provider, threshold in MACHINES:
        data = MachineCreate(
            name=name,
            kind=kind,
            adapter=adapter,
            address=address,
            running_threshold_w=threshold,
            provider_id=cast.people[provider] if provider else COMMONS_FUND_ID,
        )
        machine = service.create_machine(db, data)
        assert machine.id is not None
        cast.machines[name] = machine.id
    for reader_name, machine_name in READERS:
        reader = service.create_reader(
            db,
            ReaderCreate(
                name=reader_name,
                machine_id=cast.machines[machine_name] if machine_name else None,
                product_id=cast.product_id if machine_name else None,
            ),
        )
        assert reader.id is not None
        cast.readers[reader_name] = reader.id
    return cast
