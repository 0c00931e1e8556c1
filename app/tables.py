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
from app.lab.activity import (
    DecodeReject,
    DeviceEvent,
    LabSession,
    MachineRun,
    MachineStatus,
    UnknownScan,
)
from app.lab.models import Badge, Contributor, Machine, Reader

__all__ = [
    "ApiKey",
    "Badge",
    "CapProgress",
    "Contribution",
    "Contributor",
    "DecodeReject",
    "DeviceEvent",
    "LabSession",
    "LedgerEntry",
    "Machine",
    "MachineRun",
    "MachineStatus",
    "ParkedRefund",
    "PayoutBatch",
    "PayoutItem",
    "Product",
    "ProductSku",
    "Reader",
    "RejectedDelivery",
    "Sale",
    "SaleLine",
    "Split",
    "SplitShare",
    "UnknownScan",
    "ValueEquation",
    "WebhookDelivery",
]
