"""What each field a client fills in means: one wording per name, refined per schema.

`FIELDS` is looked up as "Schema.field" first, then "field"; a description the
model already gives is kept. `PARAMETERS` does the same for query and path
parameters ("operation_id.name", then "name").
"""

from __future__ import annotations

from typing import Any

FIELDS: dict[str, str] = {
    # people and cards
    "name": "Name, unique among its kind where the API says so (1-200 characters).",
    "email": "Email address (optional); never shown publicly.",
    "display_name": "Name shown on public pages (default: the name).",
    "payout_details": "How this person is paid (IBAN, PayPal...); shown to keyholders only.",
    "role": "Role, for labour rates by role (e.g. maker, designer, technician).",
    "card_id": "The card id in any reader's form: printed number, RDM6300 hex or a UID.",
    "label": "A note on the card (e.g. 'blue fob').",
    "contributor_id": "Id of the contributor.",
    "BadgeUpdate.status": "active, or revoked (scans of it are then unknown scans).",
    "BadgeUpdate.contributor_id": "Move the card to this contributor.",
    # machines and readers
    "kind": "What sort of equipment it is.",
    "adapter": "How LabLedger hears from it (docs/devices.md).",
    "MachineCreate.address": "Which device: printer serial, topic or prefix, or serial port.",
    "MachineUpdate.address": "Which device: printer serial, topic or prefix, or serial port.",
    "provider_id": "Contributor credited for the machine's time (default: the commons fund).",
    "running_threshold_w": "Power-sensed machines: running above this many watts.",
    "run_start_after_s": "Power above the threshold this long starts a run.",
    "run_stop_after_s": "Power below half the threshold this long ends a run.",
    "idle_timeout_s": "A session at an idle machine closes after this many seconds.",
    "max_session_s": (
        "Longest a session here counts (default LABLEDGER_MAX_SESSION_S); a longer one is "
        "closed at it and flagged for review."
    ),
    "protocol": "mqtt (lab/v1 topic), or a serial reader format.",
    "ReaderCreate.address": "lab/v1 topic segment (default: the name), or serial port@baud.",
    "ReaderUpdate.address": "lab/v1 topic segment (default: the name), or serial port@baud.",
    "machine_id": "Id of the machine (none: the reader is at the door).",
    "product_id": "Id of the product it counts for.",
    "operator_id": "Id of the contributor who ran it.",
    # products
    "description": "What it is, for people.",
    "skus": "Shop SKUs it is sold under; each names one product.",
    # events
    "BadgeEventIn.badge": "The card id as the reader read it (any form).",
    "MachineEventIn.state": (
        "running, paused, idle, finished, failed, cancelled, interrupted or offline."
    ),
    "at": "When it happened, RFC 3339 with a zone (default: when received).",
    "id": "Unique id of the event, so a resent one counts once.",
    "job": "Name of the job or file.",
    "progress": "Progress in percent, 0-100.",
    "power_w": "Power drawn now, W.",
    "energy_wh": "Energy used by the run, Wh.",
    "material": "Material used (filament in mm).",
    "reported_busy_s": "The device's own busy time for the job, s.",
    # contributions
    "hours": "Hours, as a decimal string (e.g. '3.5').",
    "note": "Why, or what it was (kept with the record).",
    "amount": "Amount as a decimal string in the currency (e.g. '250.00').",
    "currency": "ISO 4217 code, e.g. EUR.",
    "revision": "The cited design revision (repository and commit, or a URL).",
    "points": "Points the citation is worth.",
    "percent": "Percent of the product's points the citation is worth.",
    "reason": "Why (kept with the decision).",
    "LabourEntry.kind": "labour.",
    "WorkEntry.kind": "design or documentation.",
    "MoneyEntry.kind": "money, or materials at their value.",
    "CitationEntry.kind": "citation.",
    "LabourEntry.role": "Role for the rate (default: the contributor's role).",
    # value equations
    "effective_from": "From when this version is in force (RFC 3339).",
    "rates": "Points per unit of each contribution kind; missing ones use the defaults.",
    "buckets": "Buckets taken in order from each sale's net amount.",
    "cap_currency": "Currency of the buckets' caps.",
    "labour_per_hour": "Points per hour of labour.",
    "labour_by_role": "Points per hour of labour, by role.",
    "machine_per_hour": "Points per machine hour.",
    "machine_by_id": "Points per machine hour, by machine id.",
    "machine_by_kind": "Points per machine hour, by machine kind.",
    "money_per_major_unit": "Points per unit of money put in (e.g. per euro).",
    "materials_per_major_unit": "Points per unit of the value of materials given.",
    "design_per_hour": "Points per hour of design work.",
    "documentation_per_hour": "Points per hour of documentation.",
    "citation_mode": "Citations count in points, or as a percent of the product's points.",
    "BucketIn.name": "Name of the bucket (shown in splits).",
    "mode": "straight: percent of the whole; remaining: percent of what is left.",
    "BucketIn.percent": "Percent taken, up to 4 decimals, in (0, 100].",
    "paid_to": "contributors (by points), commons_fund, or one contributor.",
    "BucketIn.contributor_id": "With paid_to contributor: who is paid.",
    "kinds": "Only these contribution kinds count for this bucket.",
    "cap": "Debt-like cap in cap_currency: paid until this much is reached.",
    # access (docs/access.md)
    "requires_induction": "A badge-in here needs a valid induction (default false).",
    "interlock": "How LabLedger switches its power relay: tasmota, shelly or lab (or none).",
    "interlock_address": "The relay's Tasmota topic, Shelly prefix or lab/v1 machine segment.",
    "interlock_cooldown_s": "Seconds after a run ends before the relay is switched off.",
    "machine_ids": "Ids of the machines in the group (the list replaces the old one).",
    "group_id": "Id of the machine group.",
    "trainer_id": "Id of the contributor, a trainer for it, who gave the induction.",
    "granted_at": "When the induction was given, RFC 3339 (default: now).",
    "expires_at": "When it stops being valid, RFC 3339 (none: it does not expire).",
    "TrainerCreate.contributor_id": "Id of the contributor who becomes a trainer.",
    "TrainerCreate.machine_id": "The machine they train on (or give group_id).",
    "TrainerCreate.group_id": "The machine group they train on (or give machine_id).",
    "InductionCreate.contributor_id": "Id of the contributor inducted.",
    "InductionCreate.machine_id": "The machine the induction is for (or give group_id).",
    "InductionCreate.group_id": "The machine group it is for (or give machine_id).",
    "MachineGroupCreate.description": "What the group is, for people.",
    "MachineGroupUpdate.description": "What the group is, for people.",
    "InductionRevoke.reason": "Why the induction ends (kept with it).",
    # payouts
    "minimum": "Balances at or above this amount are paid (decimal string).",
    "include_commons": "Pay the commons fund's balance too.",
}

PARAMETERS: dict[str, str] = {
    "active": "Only active (true) or only deactivated (false) rows.",
    "adapter": "Only machines with this adapter.",
    "kind": "Only this kind.",
    "protocol": "Only readers with this protocol.",
    "email": "Only the contributor with this email.",
    "provider_id": "Only machines credited to this contributor.",
    "operator_id": "Only runs of this operator.",
    "status": "Only rows in this status.",
    "source": "Only rows from this source.",
    "sku": "Only the product sold under this SKU.",
    "open": "Only open (true) or only closed (false) ones.",
    "currency": "ISO 4217 code, e.g. EUR.",
    "provider": "Only this shop (stripe, shopify, woocommerce, generic, csv...).",
    "reference": "Only entries with this reference.",
    "transaction_id": "Only the entries of this transaction.",
    "version": "Equation version to use (default: the one in force now).",
    "compare": "Another version to compare with.",
    "badge_id": "Id of the badge.",
    "batch_id": "Id of the payout batch.",
    "contribution_id": "Id of the contribution.",
    "contributor_id": "Id of the contributor.",
    "line_id": "Id of the sale line.",
    "machine_id": "Id of the machine.",
    "product_id": "Id of the product.",
    "reader_id": "Id of the reader.",
    "run_id": "Id of the run.",
    "sale_id": "Id of the sale.",
    "session_id": "Id of the session.",
    "group_id": "Id of the machine group.",
    "trainer_id": "Id of the trainer appointment.",
    "induction_id": "Id of the induction.",
    "revoked": "Only revoked (true) or only unrevoked (false) ones.",
    "reason": "Only this reason.",
    "since": "At or after this moment (RFC 3339).",
    "at": "The moment to check (RFC 3339; default now).",
    "reader": "A reader's lab/v1 topic segment or name (repeat; none: every active reader).",
    "if-none-match": "The version (ETag) the bridge holds: 304 when it is still current.",
    "list_trainers.machine_id": "Only trainers for this machine.",
    "list_trainers.active": "Only appointments in force (true) or ended (false).",
}


def _describe_properties(name: str, definition: dict[str, Any]) -> None:
    for field, spec in definition.get("properties", {}).items():
        if "description" in spec:
            continue
        text = FIELDS.get(f"{name}.{field}") or FIELDS.get(field)
        if text is not None:
            spec["description"] = text


def document_fields(schema: dict[str, Any]) -> None:
    """Describe every schema property and every parameter that has no description yet."""
    for name, definition in schema.get("components", {}).get("schemas", {}).items():
        _describe_properties(name, definition)
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("description") or parameter.get("schema", {}).get("description"):
                    continue
                name = parameter["name"]
                text = PARAMETERS.get(f"{operation.get('operationId')}.{name}") or PARAMETERS.get(
                    name
                )
                if text is not None:
                    parameter["description"] = text
