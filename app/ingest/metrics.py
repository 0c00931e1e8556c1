"""Ingest metrics: messages in, events applied, duplicates, rejects per source."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("labledger_ingest_messages_total", "Messages received", ["transport"])
EVENTS_APPLIED = Counter("labledger_ingest_events_applied_total", "Device events recorded")
DUPLICATES = Counter("labledger_ingest_duplicates_total", "Redelivered events ignored")
REJECTS = Counter("labledger_ingest_rejects_total", "Messages that did not decode", ["source"])
IGNORED = Counter(
    "labledger_ingest_ignored_total",
    "Messages a codec read and by a documented rule turned into no event",
    ["source", "reason"],
)
BATCH_SECONDS = Histogram("labledger_ingest_batch_seconds", "Time to write one batch")
QUEUE_DEPTH = Gauge("labledger_ingest_queue_depth", "Messages waiting to be written")
DENIED_SCANS = Counter(
    "labledger_access_denied_scans_total", "Badge scans that opened no session", ["reason"]
)
POWER_COMMANDS = Counter(
    "labledger_interlock_commands_total",
    "Interlock power commands by what happened (sent, retried, confirmed, failed)",
    ["result"],
)
BATCH_RETRIES = Counter(
    "labledger_ingest_batch_retries_total", "Batches written again after a failure"
)
BROKER_DROPPED = Gauge("labledger_broker_dropped_messages", "Messages the MQTT broker dropped")
ROUTING_PROBLEMS = Gauge(
    "labledger_ingest_routing_problems",
    "Active machines or readers that cannot be listened to (see routing_problem on each)",
    ["kind"],
)
CLOCK_SKEWED = Counter(
    "labledger_ingest_clock_skewed_total",
    "Device events stamped too far in the future, recorded at their receive time instead",
)
