"""TLS contexts for the lab broker and for Bambu printers' own brokers.

A Bambu printer presents a certificate for its serial number, signed by Bambu's
own CA and not by any public one, and is reached by IP address. So by default
the bridge encrypts but does not verify the printer (what every LAN client of
these printers does); given the CA file, it verifies the chain and checks the
certificate against the serial number rather than the address it dialled.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path


class _ServerNameContext(ssl.SSLContext):
    """An SSL context that always presents and checks one fixed server name."""

    server_name: str

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        """Wrap as the base class does, with the fixed name instead of the dialled host."""
        return super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=self.server_name,
            session=session,
        )


def broker_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verified TLS to the lab broker: against `ca_file`, or the system's CAs."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def printer_context(serial: str, ca_file: Path | None) -> ssl.SSLContext:
    """TLS to a Bambu printer: unverified without a CA file, else verified as its serial."""
    context = _ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
    context.server_name = serial
    if ca_file is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cafile=str(ca_file))
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
    return context
