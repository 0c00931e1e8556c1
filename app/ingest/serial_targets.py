"""Which serial targets the service may open: local ports, and network ones only when allowed.

A serial address is a device path (`/dev/ttyUSB0`) or a pyserial URL. URLs
such as `socket://host:port` and `rfc2217://host:port` make the service open a
TCP connection and write to it (Marlin and SCPI are polled every 2 s), so an
API key that can register a machine could point the service anywhere. By
default only local ports (device paths, and `loop://` for trials) are
accepted; a network target is accepted only when its host is in
`LABLEDGER_SERIAL_NETWORK_ALLOW`. Other pyserial URL kinds (`spy://`,
`alt://`, `hwgrep://`, ...) wrap or search for ports and are refused.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

NETWORK_SCHEMES = frozenset({"socket", "rfc2217"})
LOCAL_SCHEMES = frozenset({"loop"})


def _port_part(address: str) -> str:
    """The port without a trailing `@<baud>`."""
    port, sep, baud = address.rpartition("@")
    return port if sep and baud.isdigit() and port else address


def serial_target_problem(address: str, allowed_hosts: Collection[str]) -> str | None:
    """Why the service must not open `address`, or None when it may."""
    port = _port_part(address.strip())
    if "://" not in port:
        return None
    scheme = port.split("://", 1)[0].lower()
    if scheme in LOCAL_SCHEMES:
        return None
    if scheme not in NETWORK_SCHEMES:
        return f"serial URLs of kind {scheme}:// are not accepted; use a device path"
    try:
        host = (urlsplit(port).hostname or "").lower()
    except ValueError:
        host = ""
    if not host:
        return f"a {scheme}:// target needs a host"
    if host not in allowed_hosts:
        return (
            f"network serial target {host!r} is not allowed; "
            "add the host to LABLEDGER_SERIAL_NETWORK_ALLOW to use it"
        )
    return None
