"""Access: inductions per machine or group, the badge-in gate, and the interlock's decisions.

Modules: `models` (tables and schemas), `inductions` (groups, trainers, grants,
revocations, validity), `gate` (a badge scan allowed or denied, and why),
`interlock` (what a machine's power relay should be, as commands for ingest to
send), `edge` (the induction list a bridge caches), `queries` (read views).
"""
