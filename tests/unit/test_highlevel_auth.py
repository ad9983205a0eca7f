"""HighLevel app crypto: webhook signatures and the custom page's CryptoJS SSO payload."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as apad

import highlevel_sso
from highlevel_sso import encrypt_sso
from scormhub.integrations.highlevel.auth import (
    VENDOR_ED25519_PEM,
    VENDOR_RSA_PEM,
    SsoPayloadInvalid,
    decrypt_sso,
    verify_webhook,
    webhook_age_problem,
    webhook_dedupe_key,
)

SSO_KEY = "shared-secret-from-highlevel"
SSO_USER = {
    "userId": "YlWd2wuCAZQzh2cH1fVZ",
    "companyId": "ocQHyuzHvysMo5N5VsXc",
    "role": "admin",
    "type": "location",
    "userName": "Ada Lovelace",
    "email": "ada@example.com",
    "activeLocation": "ve9EPM428h8vShlRW1KT",
}
# Made independently of our code, by OpenSSL's EVP_BytesToKey (`openssl enc -aes-256-cbc -md md5 -k KEY
# -S <salt>`), which is the derivation CryptoJS uses in passphrase mode: JSON.stringify(SSO_USER).
OPENSSL_SSO_PAYLOAD = (
    "U2FsdGVkX18BAgMEBQYHCCQ4y2H1FfZUEjRhySG6oSJ/BtPCVcUC9Cuxa0ohuBONgRfitYMuBbLv5Y9mARPf4QHvOpZCtegnC4TK"
    "PB/N+XhWZfUeBaY+EKK/wgQNXWEm+VAnEPmcLJDtmfFI87VKpDNk3n21KAmSsowb7V5CwZpkflEtmIz3jSJkUNqENyvU8kodQ54Z"
    "U6OxA7f4xZsv3gNnoKXk/m3eKUYAHEICWnZGxA0Cy0st8zFbz9cRfSqcsWst0YgHAPsShUlUz5+YcOy22uB780FtTGY2NjfP2ec="
)
OPENSSL_NOT_JSON = "U2FsdGVkX18REhMUFRYXGO4C6FXvKABlrbRijo8h1Yg="  # "hello, not json"
OPENSSL_JSON_LIST = "U2FsdGVkX18hIiMkJSYnKDYFCi5Co2dvZ5k9WzGrrh8="  # "[1,2,3]"

BODY = json.dumps(
    {"type": "INSTALL", "appId": "66a1b2c3d4e5f6a7b8c9d0e1", "locationId": "ve9EPM428h8vShlRW1KT"},
    separators=(",", ":"),
).encode()


# --- SSO ------------------------------------------------------------------------------------------------


def test_a_payload_made_the_cryptojs_way_decrypts_to_the_user_data() -> None:
    assert decrypt_sso(OPENSSL_SSO_PAYLOAD, SSO_KEY) == SSO_USER


def test_encrypt_sso_round_trips_with_a_fresh_salt_each_time() -> None:
    first = encrypt_sso(SSO_USER, SSO_KEY)
    second = encrypt_sso(SSO_USER, SSO_KEY)

    assert first != second
    assert first.startswith("U2FsdGVkX1")  # base64 of "Salted__", as CryptoJS's toString() gives
    assert decrypt_sso(first, SSO_KEY) == SSO_USER == decrypt_sso(second, SSO_KEY)


def test_encrypt_sso_keeps_non_ascii_names() -> None:
    data = {"userName": "Zażółć Gęślą", "email": "zazolc@example.com"}

    assert decrypt_sso(encrypt_sso(data, SSO_KEY), SSO_KEY) == data


def test_encrypt_sso_with_openssls_salt_gives_openssls_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The encryption checked against the independent derivation, not only against our own decrypt.
    monkeypatch.setattr(highlevel_sso.os, "urandom", lambda n: bytes(range(1, n + 1)))

    assert encrypt_sso(SSO_USER, SSO_KEY) == OPENSSL_SSO_PAYLOAD


def test_a_wrong_key_is_refused() -> None:
    with pytest.raises(SsoPayloadInvalid, match="not encrypted with this shared secret"):
        decrypt_sso(OPENSSL_SSO_PAYLOAD, "another-secret")


def test_many_wrong_keys_are_all_refused_never_returning_noise() -> None:
    payload = encrypt_sso(SSO_USER, SSO_KEY)
    for n in range(300):  # some wrong keys give valid padding; the JSON check must catch those
        with pytest.raises(SsoPayloadInvalid):
            decrypt_sso(payload, f"wrong-{n}")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(OPENSSL_SSO_PAYLOAD[:-24] + "==", id="cut-mid-block"),
        pytest.param(base64.b64encode(base64.b64decode(OPENSSL_SSO_PAYLOAD)[:-16]).decode(), id="last-block"),
        pytest.param(base64.b64encode(b"Salted__1234").decode(), id="salt-only"),
        pytest.param("", id="empty"),
    ],
)
def test_a_truncated_payload_is_refused(payload: str) -> None:
    with pytest.raises(SsoPayloadInvalid):
        decrypt_sso(payload, SSO_KEY)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("not base64 at all!!", id="not-base64"),
        pytest.param(base64.b64encode(b"Pickled__" + bytes(32)).decode(), id="no-salted-prefix"),
        pytest.param(OPENSSL_NOT_JSON, id="not-json"),
        pytest.param(OPENSSL_JSON_LIST, id="json-but-not-an-object"),
    ],
)
def test_garbage_is_refused_as_an_invalid_payload(payload: str) -> None:
    with pytest.raises(SsoPayloadInvalid):
        decrypt_sso(payload, SSO_KEY)


def test_an_invalid_payload_is_a_value_error_for_callers_that_catch_those() -> None:
    assert issubclass(SsoPayloadInvalid, ValueError)


# --- webhooks -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def ed_signature(key: ed25519.Ed25519PrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body)).decode()


def rsa_signature(key: rsa.RSAPrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, apad.PKCS1v15(), hashes.SHA256())).decode()


@pytest.fixture(scope="module")
def pems(ed_key: ed25519.Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey) -> dict[str, str]:
    return {"ed25519_pem": public_pem(ed_key), "rsa_pem": public_pem(rsa_key)}


def test_an_ed25519_signed_body_is_accepted(ed_key: ed25519.Ed25519PrivateKey, pems: dict[str, str]) -> None:
    assert verify_webhook(BODY, {"x-ghl-signature": ed_signature(ed_key, BODY)}, **pems) is True


def test_a_legacy_rsa_signed_body_is_accepted(rsa_key: rsa.RSAPrivateKey, pems: dict[str, str]) -> None:
    assert verify_webhook(BODY, {"x-wh-signature": rsa_signature(rsa_key, BODY)}, **pems) is True


def test_header_names_match_whatever_their_case(
    ed_key: ed25519.Ed25519PrivateKey, pems: dict[str, str]
) -> None:
    assert verify_webhook(BODY, {"X-GHL-Signature": ed_signature(ed_key, BODY)}, **pems) is True


@pytest.mark.parametrize("header", ["x-ghl-signature", "x-wh-signature"])
def test_a_tampered_body_is_rejected(
    header: str, ed_key: ed25519.Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey, pems: dict[str, str]
) -> None:
    signature = ed_signature(ed_key, BODY) if header == "x-ghl-signature" else rsa_signature(rsa_key, BODY)
    tampered = BODY.replace(b"INSTALL", b"UNINSTALL")

    assert verify_webhook(tampered, {header: signature}, **pems) is False


def test_a_body_signed_with_another_key_is_rejected(pems: dict[str, str]) -> None:
    stranger_ed = ed25519.Ed25519PrivateKey.generate()
    stranger_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    assert verify_webhook(BODY, {"x-ghl-signature": ed_signature(stranger_ed, BODY)}, **pems) is False
    assert verify_webhook(BODY, {"x-wh-signature": rsa_signature(stranger_rsa, BODY)}, **pems) is False


def test_an_unsigned_body_is_rejected(pems: dict[str, str]) -> None:
    assert verify_webhook(BODY, {"content-type": "application/json"}, **pems) is False
    assert verify_webhook(BODY, {"x-ghl-signature": ""}, **pems) is False


@pytest.mark.parametrize("signature", ["not base64!!", "AAAA", base64.b64encode(b"x" * 63).decode(), "===="])
@pytest.mark.parametrize("header", ["x-ghl-signature", "x-wh-signature"])
def test_garbage_signatures_are_rejected_without_raising(
    header: str, signature: str, pems: dict[str, str]
) -> None:
    assert verify_webhook(BODY, {header: signature}, **pems) is False


def test_the_ed25519_header_decides_when_both_are_present(
    ed_key: ed25519.Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey, pems: dict[str, str]
) -> None:
    valid_rsa = rsa_signature(rsa_key, BODY)

    assert verify_webhook(
        BODY, {"x-ghl-signature": ed_signature(ed_key, BODY), "x-wh-signature": "garbage"}, **pems
    )
    assert not verify_webhook(BODY, {"x-ghl-signature": "garbage", "x-wh-signature": valid_rsa}, **pems)


def test_a_misconfigured_key_rejects_instead_of_raising(
    ed_key: ed25519.Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey, pems: dict[str, str]
) -> None:
    swapped = {"ed25519_pem": pems["rsa_pem"], "rsa_pem": pems["ed25519_pem"]}

    assert verify_webhook(BODY, {"x-ghl-signature": ed_signature(ed_key, BODY)}, **swapped) is False
    assert verify_webhook(BODY, {"x-wh-signature": rsa_signature(rsa_key, BODY)}, **swapped) is False
    assert (
        verify_webhook(
            BODY, {"x-ghl-signature": ed_signature(ed_key, BODY)}, ed25519_pem="not a pem", rsa_pem=""
        )
        is False
    )


def test_the_vendor_keys_parse_as_ed25519_and_rsa_4096() -> None:
    ed_public = serialization.load_pem_public_key(VENDOR_ED25519_PEM.encode())
    rsa_public = serialization.load_pem_public_key(VENDOR_RSA_PEM.encode())

    assert isinstance(ed_public, ed25519.Ed25519PublicKey)
    assert isinstance(rsa_public, rsa.RSAPublicKey)
    assert rsa_public.key_size == 4096


def test_the_vendor_keys_reject_a_signature_they_did_not_make(ed_key: ed25519.Ed25519PrivateKey) -> None:
    assert (
        verify_webhook(
            BODY,
            {"x-ghl-signature": ed_signature(ed_key, BODY)},
            ed25519_pem=VENDOR_ED25519_PEM,
            rsa_pem=VENDOR_RSA_PEM,
        )
        is False
    )


# --- webhook freshness and identity -------------------------------------------------------------------------

NOW_S = 1_780_000_000.0  # a fixed "now": the rule is about the stamp, not about when the test runs


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        pytest.param(int((NOW_S - 299) * 1000), True, id="just-under-5-minutes-old-ms"),
        pytest.param(NOW_S - 301, False, id="just-over-5-minutes-old-seconds"),
        pytest.param("2026-05-28T20:26:40Z", True, id="iso-now"),
        pytest.param("2026-05-28T20:26:40", True, id="iso-naive-is-utc"),
        pytest.param(int((NOW_S + 59) * 1000), True, id="a-little-clock-skew"),
        pytest.param(int((NOW_S + 61) * 1000), False, id="ahead-of-the-skew"),
        pytest.param("not a date", False, id="unparseable"),
        pytest.param("", False, id="empty"),
        pytest.param(None, True, id="null-is-no-stamp-deduped-instead"),
        pytest.param(float("inf"), False, id="infinite"),
        pytest.param([NOW_S], False, id="a-list"),
    ],
)
def test_only_a_webhook_stamped_in_the_last_5_minutes_is_fresh(timestamp: object, accepted: bool) -> None:
    problem = webhook_age_problem({"timestamp": timestamp}, NOW_S)

    assert (problem is None) is accepted


def test_a_webhook_without_an_id_is_identified_by_its_signed_bytes() -> None:
    other = BODY.replace(b"INSTALL", b"UNINSTALL")

    assert webhook_dedupe_key({"webhookId": "w-1"}, BODY) == "w-1"
    assert webhook_dedupe_key({}, BODY) == webhook_dedupe_key({"webhookId": ""}, BODY)
    assert webhook_dedupe_key({}, BODY) != webhook_dedupe_key({}, other)
    assert webhook_dedupe_key({"webhookId": 7}, BODY).startswith("body-sha256:")
