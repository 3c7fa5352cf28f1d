"""Finding the uid behind a loopback connection in /proc/net/tcp and /proc/net/tcp6 (sample lines
captured on this machine: a server on 127.0.0.1:36325 with a client on 52062, and a dual-stack server
on [::]:43475 with an IPv4 client and an IPv6 client)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from pathlib import Path

import pytest

from appliance.portal.peers import (
    HEADER,
    NLMSG_ERROR,
    TIME_WAIT,
    client_uid,
    diag_owner,
    diag_request,
    hex_endpoint,
    is_loopback,
    parse_diag_answer,
    parse_endpoint,
    parse_line,
    proc_owner,
    socket_owner,
)

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
            assert proc_owner(client.getsockname(), server.getsockname()) == os.geteuid()
            assert proc_owner(client.getsockname(), server.getsockname(), [tmp_path / "missing"]) is None


def test_the_kernel_names_the_owner_of_one_connection_by_its_addresses() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname()) as client:
        accepted, _ = server.accept()
        with accepted:
            assert diag_owner(client.getsockname(), server.getsockname()) == os.geteuid()
            assert client_uid(client.getsockname(), server.getsockname()) == os.geteuid()
            # the kernel would fall back to a listener on the local end: the server's port is no client
            assert diag_owner(server.getsockname(), ("127.0.0.1", 1)) is None
            assert diag_owner(("127.0.0.1", 1), server.getsockname()) is None


def test_a_dual_stack_listeners_clients_are_found_as_uvicorn_names_them() -> None:
    with socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as ipv4, socket.create_connection(("::1", port)) as ipv6, \
                socket.socket(socket.AF_INET6) as mapped:
            mapped.connect(("::ffff:127.0.0.1", port))
            accepted = [server.accept() for _ in range(3)]
            by_port = {peer[1]: (peer[0], server_end.getsockname()[0]) for server_end, peer in accepted}
            for client in (ipv4, ipv6, mapped):
                client_port = client.getsockname()[1]
                peer, local = by_port[client_port]  # ('::ffff:127.0.0.1', …) for both IPv4 clients
                assert diag_owner((peer, client_port), (local, port)) == os.geteuid(), peer
            for server_end, _ in accepted:
                server_end.close()


def test_a_socket_in_time_wait_is_nobodys() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        ends = client.getsockname(), server.getsockname()
        client.close()  # the side that closes first waits in TIME_WAIT, owned by uid 0 with no inode
        accepted.recv(1)
        accepted.close()
        assert diag_owner(*ends) is None
        assert proc_owner(*ends) is None


@contextmanager
def connection_of_user(uid: int) -> Iterator[tuple[tuple[str, int], tuple[str, int]]]:
    """A loopback connection whose client end a process running as ``uid`` holds."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        code = ("import socket, sys; c = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); "
                "print(c.getsockname()[1], flush=True); sys.stdin.read()")
        with subprocess.Popen([sys.executable, "-c", code, str(server.getsockname()[1])], user=uid,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
            try:
                assert child.stdout is not None
                client_port = int(child.stdout.readline())
                accepted, _ = server.accept()
                with accepted:
                    yield ("127.0.0.1", client_port), server.getsockname()
            finally:
                child.kill()


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a client as another user: needs root")
def test_the_owner_is_the_clients_user_not_the_servers() -> None:
    with connection_of_user(65534) as (client, server):
        assert diag_owner(client, server) == 65534
        assert proc_owner(client, server) == 65534


def test_an_error_answer_is_no_socket() -> None:
    # NLMSG_ERROR with -ENOENT, then the request it answers (as long as a socket's answer would be)
    request = diag_request((ip_address("127.0.0.1"), 8000), (ip_address("127.0.0.1"), 80))
    error = HEADER.pack(92, NLMSG_ERROR, 0, 1, 0) + (-2).to_bytes(4, sys.byteorder, signed=True) + request
    assert parse_diag_answer(error) is None
    assert parse_diag_answer(b"") is None
    assert len(request) == 72 and request[16] == socket.AF_INET and request[24:26] == (8000).to_bytes(2, "big")
    assert TIME_WAIT == 6


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.3.2.1") and is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.0.0.5") and not is_loopback("::ffff:10.0.0.5") and not is_loopback("unix")
