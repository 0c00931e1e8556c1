"""The lab's people and equipment as CSV files: exported, and imported after a plan.

Three files, each the same format both ways, so `labledger export X` then
`labledger import X` changes nothing (see docs/cli.md for the columns):

- members: contributors and their badges (`name,email,display_name,role,badges,payout_details`);
- machines: `name,kind,adapter,address,provider,running_threshold_w,...`;
- readers: `name,protocol,address,machine,product`.

An import first makes a `Plan` (one line per change, every problem with its row),
writes nothing when there is a problem, and applies through the same services as
the API, so the same rules hold.
"""
