"""Who is at the other end of a loopback connection: the uid that owns the client's socket.

Linux lists every TCP socket of this network namespace in /proc/net/tcp (IPv4) and /proc/net/tcp6
(IPv6, with IPv4-mapped addresses for IPv4 clients of a dual-stack listener), one line each:

    sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
     0: 0100007F:C350 0100007F:1F40 01 00000000:00000000 00:00000000 00000000  1001        0 41235 ...

Addresses are hexadecimal, each 32-bit word in the kernel's byte order, and ports big-endian hex.
For a connection the portal accepted, the *client's* socket is the line whose local address is the
client's ip:port and whose remote address is the portal's ip:port; its uid column is the client's
owner. A socket in TIME_WAIT has no owner any more (uid 0, inode 0) and never counts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Literal

TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
TIME_WAIT = 0x06

IPAddress = IPv4Address | IPv6Address
Endpoint = tuple[IPAddress, int]


@dataclass(frozen=True)
class TcpSocket:
    """One line of /proc/net/tcp or /proc/net/tcp6."""

    local: Endpoint
    remote: Endpoint
    state: int
    uid: int
    inode: int


def plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:127.0.0.1) as the IPv4 address it stands for."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_endpoint(text: str, byteorder: Literal["little", "big"] = sys.byteorder) -> Endpoint:
    """``0100007F:1F40`` → (127.0.0.1, 8000); 32 hex digits before the colon for IPv6."""
    address, _, port = text.partition(":")
    if len(address) not in (8, 32) or not port:
        raise ValueError(f"not an address:port of /proc/net/tcp: {text!r}")
    packed = b"".join(int(address[i:i + 8], 16).to_bytes(4, byteorder)
                      for i in range(0, len(address), 8))
    return plain(ip_address(packed)), int(port, 16)


def parse_line(line: str, byteorder: Literal["little", "big"] = sys.byteorder) -> TcpSocket | None:
    """One socket, or None for the header line or anything that is not a socket line."""
    fields = line.split()
    if len(fields) < 10 or not fields[0].endswith(":"):
        return None
    try:
        return TcpSocket(local=parse_endpoint(fields[1], byteorder), remote=parse_endpoint(fields[2], byteorder),
                         state=int(fields[3], 16), uid=int(fields[7]), inode=int(fields[9]))
    except ValueError:
        return None


def endpoint(address: tuple[str, int]) -> Endpoint:
    host, port = address
    return plain(ip_address(host.split("%")[0])), port


def hex_endpoint(endpoint: Endpoint, ipv6: bool, byteorder: Literal["little", "big"] = sys.byteorder) -> str:
    """How a table writes an endpoint: ``0100007F:1F40``; in /proc/net/tcp6, an IPv4 address IPv4-mapped."""
    address, port = endpoint
    packed = address.packed if ipv6 == (address.version == 6) else IPv6Address(f"::ffff:{address}").packed
    words = (int.from_bytes(packed[i:i + 4], byteorder) for i in range(0, len(packed), 4))
    return "".join(f"{word:08X}" for word in words) + f":{port:04X}"


def socket_owner(client: tuple[str, int], server: tuple[str, int], table: str, ipv6: bool = False,
                 byteorder: Literal["little", "big"] = sys.byteorder) -> int | None:
    """The uid owning the client's socket of the connection ``client`` → ``server``, from the text of a
    table (``ipv6`` for /proc/net/tcp6); None when no live socket matches (the client went away, or is
    not on this machine). The lines are searched as text: parsing every one costs more than the read."""
    local, remote = endpoint(client), endpoint(server)
    if not ipv6 and (local[0].version == 6 or remote[0].version == 6):
        return None
    needle = f" {hex_endpoint(local, ipv6, byteorder)} {hex_endpoint(remote, ipv6, byteorder)} "
    at = table.find(needle)
    while at >= 0:
        start, stop = table.rfind("\n", 0, at) + 1, table.find("\n", at)
        line = table[start:stop if stop >= 0 else None]
        found = parse_line(line, byteorder)
        if found and found.local == local and found.remote == remote and found.state != TIME_WAIT and found.inode:
            return found.uid
        at = table.find(needle, at + 1)
    return None


def client_uid(client: tuple[str, int], server: tuple[str, int], tables: Iterable[Path] = TCP_TABLES) -> int | None:
    """The uid owning the client's socket of a connection this process accepted, read from /proc: an IPv4
    client's socket is in /proc/net/tcp (or, from a dual-stack socket, IPv4-mapped in tcp6), an IPv6
    client's in tcp6. Each read costs the kernel a walk of its whole socket table (~10 ms here)."""
    for table in tables:
        try:
            text = table.read_text()
        except OSError:  # no IPv6 on this machine, or /proc not mounted: nobody is vouched for
            continue
        owner = socket_owner(client, server, text, ipv6=table.name.endswith("6"))
        if owner is not None:
            return owner
    return None


def is_loopback(host: str) -> bool:
    try:
        return plain(ip_address(host.split("%")[0])).is_loopback
    except ValueError:
        return False
