from __future__ import annotations

from django.test import RequestFactory, override_settings

from subscriptions.ratelimit import address_limited, client_ip, ip_limited


def test_it_uses_remote_addr_when_no_proxy_is_trusted(rf: RequestFactory):
    request = rf.get("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_ip(request) == "203.0.113.5"


@override_settings(SUBSCRIPTIONS_TRUSTED_PROXY_COUNT=1)
def test_it_takes_the_address_the_trusted_proxy_saw(rf: RequestFactory):
    # The client can forge the left part of X-Forwarded-For, never what our proxy appended.
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    assert client_ip(request) == "198.51.100.7"


def test_it_returns_none_for_an_unparseable_address(rf: RequestFactory):
    assert client_ip(rf.get("/", REMOTE_ADDR="not-an-ip")) is None


def test_it_counts_ips_and_addresses_separately(rf: RequestFactory):
    request = rf.post("/", REMOTE_ADDR="192.0.2.1")
    assert not ip_limited(request, group="t", rate="1/h")
    assert ip_limited(request, group="t", rate="1/h")
    assert not address_limited(request, group="t", email="a@example.com", rate="1/h")
    assert address_limited(request, group="t", email="A@EXAMPLE.com", rate="1/h")
    assert not address_limited(request, group="t", email="b@example.com", rate="1/h")
