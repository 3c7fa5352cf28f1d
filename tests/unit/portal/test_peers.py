"""Finding the uid behind a loopback connection in /proc/net/tcp and /proc/net/tcp6 (sample lines
captured on this machine: a server on 127.0.0.1:36325 with a client on 52062, and a dual-stack server
on [::]:43475 with an IPv4 client and an IPv6 client)."""

from __future__ import annotations

import os
import socket
from ipaddress import ip_address
from pathlib import Path

import pytest

from appliance.portal.peers import client_uid, hex_endpoint, is_loopback, parse_endpoint, parse_line, socket_owner

TCP = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   5: 0100007F:8DE5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 37502 1 0 100 0 0 10 0",
    "  66: 0100007F:CB5E 0100007F:8DE5 01 00000000:00000000 00:00000000 00000000  1001        0 37503 2 0 20 0 0 10 -1",
    " 187: 0100007F:8DE5 0100007F:CB5E 01 00000000:00000000 00:00000000 00000000     0        0 37504 1 0 20 0 0 10 -1",
    " 204: 0100007F:8514 0100007F:A9D3 01 00000000:00000000 00:00000000 00000000  1002        0 37508 2 0 20 0 0 10 -1",
]
TCP6 = [
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode",
    "   1: 00000000000000000000000001000000:8614 00000000000000000000000001000000:A9D3 01 00000000:00000000 "
    "00:00000000 00000000  1003        0 37510 2 0 20 0 0 10 -1",
    "   2: 00000000000000000000000001000000:A9D3 00000000000000000000000001000000:8614 01 00000000:00000000 "
    "00:00000000 00000000     0        0 37511 1 0 20 0 0 10 -1",
    "   3: 0000000000000000FFFF00000100007F:A9D3 0000000000000000FFFF00000100007F:8514 01 00000000:00000000 "
    "00:00000000 00000000     0        0 37509 1 0 20 0 0 10 -1",
]


def test_addresses_are_decoded_in_the_kernels_byte_order() -> None:
    assert parse_endpoint("0100007F:1F40", "little") == (ip_address("127.0.0.1"), 8000)
    assert parse_endpoint("7F000001:1F40", "big") == (ip_address("127.0.0.1"), 8000)
    assert parse_endpoint("00000000000000000000000001000000:0050", "little") == (ip_address("::1"), 80)
    # an IPv4 client of a dual-stack listener is listed IPv4-mapped, and means the IPv4 address
    assert parse_endpoint("0000000000000000FFFF00000100007F:A9D3", "little") == (ip_address("127.0.0.1"), 43475)
    with pytest.raises(ValueError):
        parse_endpoint("0100007F", "little")


def test_header_and_junk_lines_are_not_sockets() -> None:
    assert parse_line(TCP[0], "little") is None
    assert parse_line("", "little") is None
    assert parse_line("  9: nonsense here and there and more fields than ten of them", "little") is None
    listening = parse_line(TCP[1], "little")
    assert listening is not None and listening.state == 0x0A and listening.uid == 0 and listening.inode == 37502


def test_the_client_socket_is_the_line_whose_local_end_is_the_client() -> None:
    tcp, tcp6 = "\n".join(TCP), "\n".join(TCP6)
    # the server's own accepted socket (uid 0) is the reverse line and must not be taken for the client's
    assert socket_owner(("127.0.0.1", 52062), ("127.0.0.1", 36325), tcp, byteorder="little") == 1001
    assert socket_owner(("127.0.0.1", 36325), ("127.0.0.1", 52062), tcp, byteorder="little") == 0
    assert socket_owner(("::1", 34324), ("::1", 43475), tcp6, ipv6=True, byteorder="little") == 1003
    assert socket_owner(("::1", 34324), ("::1", 43475), tcp, byteorder="little") is None
    # uvicorn names the IPv4 client of a dual-stack listener ::ffff:127.0.0.1; its socket is in /proc/net/tcp
    assert socket_owner(("::ffff:127.0.0.1", 34068), ("::ffff:127.0.0.1", 43475), tcp, byteorder="little") == 1002
    # and an IPv4-mapped socket of tcp6 is found by its IPv4 address
    assert socket_owner(("127.0.0.1", 43475), ("127.0.0.1", 34068), tcp6, ipv6=True, byteorder="little") == 0
    assert socket_owner(("127.0.0.1", 1), ("127.0.0.1", 36325), tcp, byteorder="little") is None
    assert socket_owner(("127.0.0.1", 52062), ("127.0.0.1", 36325), "", byteorder="little") is None


def test_endpoints_are_written_as_the_tables_write_them() -> None:
    loopback = (ip_address("127.0.0.1"), 8000)
    assert hex_endpoint(loopback, ipv6=False, byteorder="little") == "0100007F:1F40"
    assert hex_endpoint(loopback, ipv6=True, byteorder="little") == "0000000000000000FFFF00000100007F:1F40"
    assert hex_endpoint((ip_address("::1"), 80), ipv6=True, byteorder="little") == \
        "00000000000000000000000001000000:0050"


def test_a_socket_in_time_wait_has_no_owner() -> None:
    time_wait = ("  70: 0100007F:CB5E 0100007F:8DE5 06 00000000:00000000 03:00000D2E 00000000     0        0 0 3 0")
    live = TCP[2]
    assert socket_owner(("127.0.0.1", 52062), ("127.0.0.1", 36325), time_wait, byteorder="little") is None
    assert socket_owner(("127.0.0.1", 52062), ("127.0.0.1", 36325), f"{time_wait}\n{live}",
                        byteorder="little") == 1001


def test_a_live_connection_is_found_in_this_machines_tables(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname()) as client:
        accepted, _ = server.accept()
        with accepted:
            assert client_uid(client.getsockname(), server.getsockname()) == os.geteuid()
            assert client_uid(client.getsockname(), server.getsockname(), [tmp_path / "missing"]) is None


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.3.2.1") and is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.0.0.5") and not is_loopback("::ffff:10.0.0.5") and not is_loopback("unix")
