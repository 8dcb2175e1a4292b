"""The container's resolv.conf: the host's, with --dns and --dns-search applied as in Docker."""

from __future__ import annotations

from pathlib import Path

from cais.runtime.hostfiles import host_resolv

HOST = (
    "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n"
    "search corp.example\noptions edns0\n"
)


def host(tmp_path: Path, text: str = HOST) -> Path:
    path = tmp_path / "resolv.conf"
    path.write_text(text)
    return path


def test_defaults_keep_the_hosts_servers_but_not_loopback(tmp_path: Path) -> None:
    assert host_resolv((), (), host(tmp_path)) == (
        "nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"
    )


def test_dns_search_alone_keeps_the_hosts_nameservers(tmp_path: Path) -> None:
    assert host_resolv((), ("a.test", "b.test"), host(tmp_path)) == (
        "nameserver 192.0.2.53\nsearch a.test b.test\noptions edns0\n"
    )


def test_dns_alone_keeps_the_hosts_search_and_a_dot_clears_it(tmp_path: Path) -> None:
    assert host_resolv(("9.9.9.9",), (), host(tmp_path)) == (
        "nameserver 9.9.9.9\nsearch corp.example\noptions edns0\n"
    )
    assert host_resolv(("9.9.9.9",), (".",), host(tmp_path)) == (
        "nameserver 9.9.9.9\noptions edns0\n"
    )


def test_only_loopback_or_no_file_falls_back_to_public_servers(tmp_path: Path) -> None:
    fallback = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert host_resolv((), (), host(tmp_path, "nameserver 127.0.0.1\n")) == fallback
    assert host_resolv((), (), tmp_path / "missing") == fallback
