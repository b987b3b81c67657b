"""Loopback hosts: the only places plain http:// (the demo, the tests) is allowed to reach."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False
