"""Shop webhooks: signature checks, payload normalisation and the receiving routes."""
