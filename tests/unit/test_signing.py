"""Signature vectors from the spec and from the cs library's own tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from management.api.native.signing import check_expiry, java_encode, sign, signature_matches, string_to_sign


def test_spec_v3_vector():
    params = {"command": "listVirtualMachines", "response": "json", "listall": "true", "name": "web 01+a*b/c",
              "signatureVersion": "3", "expires": "2030-01-01T00:00:00+0000", "apiKey": "AbC123_key"}
    assert string_to_sign(params) == ("apikey=abc123_key&command=listvirtualmachines&expires=2030-01-01t00%3a00%3a00"
                                      "%2b0000&listall=true&name=web%2001%2ba*b%2fc&response=json&signatureversion=3")
    assert sign(params, "S3cr3t-Key") == "YAzOHNtmrmaPyOVaa87Txks46d0="


def test_spec_v2_vectors():
    assert sign({"command": "listZones", "response": "json", "apiKey": "AbC123_key"}, "S3cr3t-Key") == \
        "26S77llwOs7UhpgjGUkBYd8Y2s8="


def test_cs_library_vector():
    params = {"command": "listVirtualMachines", "listall": "true", "response": "json", "apikey": "foo"}
    assert sign(params, "bar") == "B0d6hBsZTcFVCiioSxzwKA9Pke8="


def test_java_encoding_and_tilde_tolerance():
    assert java_encode("a b~c/é") == "a%20b%7Ec%2F%C3%A9"
    params = {"command": "listZones", "name": "a~b", "apiKey": "k"}
    assert sign(params, "s") != sign(params, "s", keep_tilde=True)
    python_style = sign(params, "s", keep_tilde=True)
    assert signature_matches(params, "s", python_style)
    assert signature_matches(params, "s", sign(params, "s"))
    assert not signature_matches(params, "t", python_style)


def test_sorting_uses_raw_names():
    # Java sorts by UTF-16 code units: upper case before lower case.
    assert string_to_sign({"apikey": "1", "apiKey": "2", "apiaaa": "3"}).split("&")[0] == "apikey=2"


def test_expiry_rules():
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert check_expiry({"command": "x"}, enforce=False, now=now) is None
    assert check_expiry({"command": "x"}, enforce=True, now=now) is not None
    assert check_expiry({"signatureVersion": "3"}, enforce=False, now=now) == "missing expires parameter for signature version 3"
    assert check_expiry({"signatureversion": "3", "expires": "2029-12-31T23:59:59+0000"}, False, now) == "request expired"
    assert check_expiry({"signatureVersion": "3", "expires": "2030-01-01T00:05:00Z"}, False, now) is None
    assert check_expiry({"signatureVersion": "3", "expires": "2030-01-01T00:05:00.123+00:00"}, False, now) is None
    assert check_expiry({"signatureVersion": "3", "expires": "soon"}, False, now) is not None
    late = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    assert check_expiry({"signatureVersion": "3", "expires": late}, True, now) is not None
