"""The seeded end-to-end simulation: devices, badges, shops, payouts and faults on two processes."""
