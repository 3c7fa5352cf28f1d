"""Who is at the other end of a loopback connection: the uid that owns the client's socket.

The kernel answers that for one connection by its four addresses over netlink (sock_diag, as ``ss`` asks):
a hash look-up, ~20 µs. Reading /proc/net/tcp instead walks the kernel's whole socket hash table
(262,144 buckets here, 4-10 ms a read whatever the number of sockets): it is the fallback where netlink's
sock_diag is missing, and it was 15% of the portal's time under bench/admin.py.

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

import socket
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Literal

TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
TIME_WAIT = 0x06
# linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, NLMSG_ERROR = 4, 20, 1, 2
NO_COOKIE = 0xFFFFFFFF  # INET_DIAG_NOCOOKIE, each half: any socket with these addresses
HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
SOCKET_ID = struct.Struct(">HH16s16s")  # inet_diag_sockid's ports and addresses (then interface, cookie)
ANSWER = struct.Struct("=IIIII")  # inet_diag_msg after its sockid: expires, rqueue, wqueue, uid, inode

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


def diag_request(local: Endpoint, remote: Endpoint) -> bytes:
    """A sock_diag request for the one TCP socket with these local and remote endpoints."""
    family = socket.AF_INET if local[0].version == 4 else socket.AF_INET6
    request = struct.pack("=BBBxI", family, socket.IPPROTO_TCP, 0, 0xFFFFFFFF) + SOCKET_ID.pack(
        local[1], remote[1], local[0].packed, remote[0].packed) + struct.pack("=III", 0, NO_COOKIE, NO_COOKIE)
    return HEADER.pack(HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0) + request


def parse_diag_answer(data: bytes) -> TcpSocket | None:
    """The socket in the kernel's answer; None for an error (ENOENT: no such socket) or a short answer."""
    if len(data) < HEADER.size + 4 + SOCKET_ID.size + 12 + ANSWER.size:
        return None
    _, kind, _, _, _ = HEADER.unpack_from(data)
    if kind == NLMSG_ERROR:
        return None
    family, state = data[HEADER.size], data[HEADER.size + 1]
    local_port, remote_port, local, remote = SOCKET_ID.unpack_from(data, HEADER.size + 4)
    _, _, _, uid, inode = ANSWER.unpack_from(data, HEADER.size + 4 + SOCKET_ID.size + 12)
    size = 4 if family == socket.AF_INET else 16
    return TcpSocket(local=(plain(ip_address(local[:size])), local_port),
                     remote=(plain(ip_address(remote[:size])), remote_port), state=state, uid=uid, inode=inode)


def diag_owner(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The uid owning the client's socket of the connection ``client`` → ``server``, asked of the kernel
    over netlink (sock_diag); None when no live socket matches. An IPv4 look-up also finds an IPv6
    socket connected to an IPv4-mapped address. OSError where the kernel has no sock_diag."""
    local, remote = endpoint(client), endpoint(server)
    if local[0].version != remote[0].version:
        return None
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(1.0)
        diag.send(diag_request(local, remote))
        found = parse_diag_answer(diag.recv(8192))
    # the kernel falls back to a listening socket on the local end: only this very connection counts
    if found and found.local == local and found.remote == remote and found.state != TIME_WAIT and found.inode:
        return found.uid
    return None


def client_uid(client: tuple[str, int], server: tuple[str, int], tables: Iterable[Path] = TCP_TABLES) -> int | None:
    """The uid owning the client's socket of a connection this process accepted: asked of the kernel
    (diag_owner), or where it has no sock_diag, read from /proc: an IPv4 client's socket is in
    /proc/net/tcp (or, from a dual-stack socket, IPv4-mapped in tcp6), an IPv6 client's in tcp6."""
    try:
        return diag_owner(client, server)
    except OSError:
        return proc_owner(client, server, tables)


def proc_owner(client: tuple[str, int], server: tuple[str, int], tables: Iterable[Path] = TCP_TABLES) -> int | None:
    """client_uid from the /proc tables: each read costs the kernel a walk of its whole socket table."""
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
