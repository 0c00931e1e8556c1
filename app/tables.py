"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from app.accounting.contributions.tables import Contribution
from app.accounting.equations.tables import ValueEquation
from app.accounting.ledger.tables import LedgerEntry
from app.accounting.payouts.tables import PayoutBatch, PayoutItem
from app.accounting.products.tables import Product, ProductSku
from app.accounting.sales.tables import (
    CapProgress,
    ParkedRefund,
    RejectedDelivery,
    Sale,
    SaleLine,
    Split,
    SplitShare,
    WebhookDelivery,
)
from app.api.keys import ApiKey
from app.api.web_sessions import WebSession
from app.ingest.lease_table import IngestLease
from app.lab.access.models import (
    DeniedScan,
    Induction,
    MachineGroup,
    MachineGroupMember,
    PowerCommand,
    PowerState,
    Trainer,
)
from app.lab.activity import (
    DecodeReject,
    DeviceEvent,
    LabSession,
    MachineRun,
    MachineStatus,
    UnknownScan,
)
from app.lab.downtime import MachineDowntime
from app.lab.models import Badge, Contributor, Machine, Reader
from app.lab.rollup_days import ContributorDay, MachineDay, ProductDay
from app.lab.rollup_months import ContributorMonth, MachineMonth, ProductMonth
from app.lab.rollup_years import ContributorYear, MachineYear, ProductYear
from app.lab.rollups import RunHour, SessionHour

__all__ = [
    "ApiKey",
    "Badge",
    "CapProgress",
    "Contribution",
    "Contributor",
    "ContributorDay",
    "ContributorMonth",
    "ContributorYear",
    "DecodeReject",
    "DeniedScan",
    "DeviceEvent",
    "Induction",
    "IngestLease",
    "LabSession",
    "LedgerEntry",
    "Machine",
    "MachineDay",
    "MachineDowntime",
    "MachineGroup",
    "MachineGroupMember",
    "MachineMonth",
    "MachineRun",
    "MachineStatus",
    "MachineYear",
    "ParkedRefund",
    "PayoutBatch",
    "PayoutItem",
    "PowerCommand",
    "PowerState",
    "Product",
    "ProductDay",
    "ProductMonth",
    "ProductSku",
    "ProductYear",
    "Reader",
    "RejectedDelivery",
    "RunHour",
    "Sale",
    "SaleLine",
    "SessionHour",
    "Split",
    "SplitShare",
    "Trainer",
    "UnknownScan",
    "ValueEquation",
    "WebSession",
    "WebhookDelivery",
]
