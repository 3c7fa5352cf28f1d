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


def socket_owner(client: tuple[str, int], server: tuple[str, int], lines: Iterable[str]) -> int | None:
    """The uid owning the client's socket of the connection ``client`` → ``server``, from table lines;
    None when no live socket matches (the client went away, or is not on this machine)."""
    local, remote = endpoint(client), endpoint(server)
    for line in lines:
        found = parse_line(line)
        if found and found.local == local and found.remote == remote and found.state != TIME_WAIT and found.inode:
            return found.uid
    return None


def client_uid(client: tuple[str, int], server: tuple[str, int], tables: Iterable[Path] = TCP_TABLES) -> int | None:
    """The uid owning the client's socket of a connection this process accepted, read from /proc."""
    for table in tables:
        try:
            lines = table.read_text().splitlines()
        except OSError:  # no IPv6 on this machine, or /proc not mounted: nobody is vouched for
            continue
        owner = socket_owner(client, server, lines)
        if owner is not None:
            return owner
    return None


def is_loopback(host: str) -> bool:
    try:
        return plain(ip_address(host.split("%")[0])).is_loopback
    except ValueError:
        return False
