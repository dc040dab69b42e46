from ipaddress import ip_address, ip_network

import pytest

from ingest.fetcher import Validators, check_address
from newsflow.errors import Reason, Rejected
from newsflow.pages import decode_page


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fd00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        # IPv6 forms that carry an IPv4 address, refused for the address they carry
        "::ffff:169.254.169.254",  # IPv4-mapped
        "::10.0.0.1",  # IPv4-compatible
        "::127.0.0.1",
        "64:ff9b::a00:1",  # NAT64, the well-known prefix
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "2002:a00:1::1",  # 6to4
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "64:ff9b:1::a00:1",  # NAT64, the local-use prefix: refused whatever it carries
        "64:ff9b:1::808:808",
        "fec0::1",  # site-local
    ],
)
def test_non_public_addresses_are_refused(address):
    with pytest.raises(Rejected, match="non-public address") as refused:
        check_address(ip_address(address), (), "http://x.example/")
    assert refused.value.reason == Reason.SSRF_REFUSED


def test_public_addresses_and_opted_in_networks_pass():
    check_address(ip_address("93.184.216.34"), (), "http://x.example/")
    check_address(ip_address("2606:4700::1111"), (), "http://x.example/")
    for carrier in ("::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2002:5db8:d822::1"):  # a public IPv4 address
        check_address(ip_address(carrier), (), "http://x.example/")
    check_address(ip_address("127.0.0.1"), (ip_network("127.0.0.0/8"),), "http://127.0.0.1/")
    with pytest.raises(Rejected, match="non-public address"):
        check_address(ip_address("10.0.0.1"), (ip_network("127.0.0.0/8"),), "http://10.0.0.1/")


def test_validators_that_cannot_be_sent_back_are_dropped():
    assert Validators('W/"a1"', "Mon, 03 Nov 2025 09:00:00 GMT").headers() == {
        "If-None-Match": 'W/"a1"',
        "If-Modified-Since": "Mon, 03 Nov 2025 09:00:00 GMT",
    }
    for etag, last_modified in [('"café"', "Пн, 03 ноя 2025"), ('"a"' + "b" * 2000, "x" * 2000), ('"a\x01"', "")]:
        assert Validators(etag, last_modified) == Validators()


def page(body: bytes, content_type: str = "text/html") -> tuple[bytes, str, str]:
    return body, content_type, "http://x.example/a"


def test_pages_are_decoded_from_header_meta_or_detection():
    assert decode_page(*page("Тоқаев".encode(), "text/html; charset=utf-8")) == ("Тоқаев", "utf-8")
    html = '<meta charset="windows-1251"><p>Токаев</p>'.encode("cp1251")
    text, encoding = decode_page(*page(html))
    assert "Токаев" in text and encoding == "cp1251"


def test_binary_bodies_and_garbage_are_refused():
    with pytest.raises(Rejected) as binary:
        decode_page(*page(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert binary.value.reason == Reason.WRONG_CONTENT_TYPE
    with pytest.raises(Rejected) as garbage:
        decode_page(*page(bytes(range(0x80, 0x100)) * 50, "text/html; charset=utf-8"))
    assert garbage.value.reason == Reason.UNDECODABLE
