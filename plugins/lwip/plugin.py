"""The kernel's TCP/IP stack, a plugin like any other: when a Linux program's
board has a network card (a device claimed with role "nic"), lwIP
(fetched from Debian's source package, netstack.py) with its kernel port
(port/stack.c) and the Linux layer's AF_INET socket family (port/sockets.c)
go into the image. Without it, socket() answers EAFNOSUPPORT."""

from __future__ import annotations

from hermitcore import hookimpl

from . import netstack


@hookimpl
def hermitcore_emit_services(ctx):
    if ctx.program is None or not any(c.claim.role == "nic" for c in ctx.claimed):
        return None
    return netstack.fragment()
