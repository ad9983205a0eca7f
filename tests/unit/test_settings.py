"""Configuration: every malformed value stops start-up with one line naming the variable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from scormhub.settings import ConfigError, Settings

GOOD_KEY = "k" * 40


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"SCORMHUB_DATA_DIR": str(tmp_path), **values}


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PORT", "eighty", "a whole number from 1 to 65535"),
        ("PORT", "70000", "a whole number from 1 to 65535"),
        ("SCORMHUB_MAX_PACKAGE_MB", "0", "a whole number from 1 to 2048"),
        ("SCORMHUB_IN_PROCESS_WORKER", "maybe", "true or false"),
        ("SCORMHUB_ENV", "staging", "one of development, production"),
        ("SCORMHUB_PUBLIC_URL", "example.com", "an absolute http(s) URL"),
        ("SCORM_CLOUD_API_URL", "ftp://cloud", "an absolute http(s) URL"),
        ("DATABASE_URL", "mysql://db/x", "a postgresql:// URL"),
        ("SCORMHUB_SECRET_KEY", "short", "at least 32 characters"),
        ("SCORMHUB_RECOVERY_INTERVAL_S", "0", "a whole number from 1 to 3600"),
        ("SCORM_CLOUD_TIMEOUT_S", "soon", "a whole number from 1 to 300"),
        ("HIGHLEVEL_RATE_LIMIT", "0", "a whole number from 1 to 10000"),
        ("HIGHLEVEL_API_URL", "services.leadconnectorhq.com", "an absolute http(s) URL"),
        ("SCORMHUB_TRUSTED_PROXY_HOPS", "all", "a whole number from 0 to 10"),
    ],
)
def test_a_malformed_setting_names_the_variable_and_what_it_expects(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env(tmp_path, **{variable: value}))

    assert caught.value.variable == variable
    assert expected in str(caught.value)
    assert str(caught.value).startswith(f"{variable}: ")


@pytest.mark.parametrize("missing", ["SCORMHUB_SECRET_KEY", "DATABASE_URL", "SCORMHUB_CONTENT_URL"])
def test_production_refuses_to_start_without_its_required_settings(tmp_path: Path, missing: str) -> None:
    values = {
        "SCORMHUB_ENV": "production",
        "SCORMHUB_SECRET_KEY": GOOD_KEY,
        "DATABASE_URL": "postgresql://db/x",
        "SCORMHUB_PUBLIC_URL": "https://hub.example.com",
        "SCORMHUB_CONTENT_URL": "https://content.example-cdn.com",
    }
    del values[missing]

    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env(tmp_path, **values))

    assert caught.value.variable == missing


def test_development_generates_a_secret_key_once_and_keeps_it_private(tmp_path: Path) -> None:
    first = Settings.from_env(env(tmp_path))
    second = Settings.from_env(env(tmp_path))

    key_file = tmp_path / "secret_key"
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_heroku_style_postgres_urls_are_accepted(tmp_path: Path) -> None:
    settings = Settings.from_env(env(tmp_path, DATABASE_URL="postgres://u:p@db:5432/app"))

    assert settings.database_url == "postgresql://u:p@db:5432/app"


def test_defaults_run_the_zero_setup_mode(tmp_path: Path) -> None:
    settings = Settings.from_env(env(tmp_path))

    assert settings.database_url is None
    assert settings.in_process_worker is True
    assert settings.max_package_mb == 50
    assert settings.host == "127.0.0.1"
    assert settings.trusted_proxy_hops == 0  # X-Forwarded-For ignored unless a proxy is declared
    assert Settings.from_env(env(tmp_path, SCORMHUB_TRUSTED_PROXY_HOPS="1")).trusted_proxy_hops == 1
    assert "frame-ancestors" not in settings.frame_ancestors  # the value only; the header adds the name
    assert "https://*.leadconnectorhq.com" in settings.frame_ancestors


def test_secrets_never_appear_in_the_settings_repr(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env(tmp_path, SCORMHUB_SECRET_KEY=GOOD_KEY, HIGHLEVEL_CLIENT_SECRET="client-secret-value")
    )

    assert GOOD_KEY not in repr(settings)
    assert "client-secret-value" not in repr(settings)


def test_highlevel_settings_give_the_webhook_app_id_and_the_rate_budget(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env(
            tmp_path,
            HIGHLEVEL_CLIENT_ID="6612abcdef-lx1y2z3",
            HIGHLEVEL_CLIENT_SECRET="the-client-secret",
            HIGHLEVEL_SSO_KEY="the-sso-key",
            HIGHLEVEL_RATE_LIMIT="90",
            SCORMHUB_RECOVERY_INTERVAL_S="5",
        )
    )

    assert settings.highlevel_app_id == "6612abcdef"
    assert settings.highlevel_configured
    assert (settings.highlevel_rate_limit, settings.highlevel_rate_window_s) == (90, 10)
    assert settings.recovery_interval_s == 5
    assert "contacts.write" in settings.highlevel_scopes.split()
    assert "the-client-secret" not in repr(settings)
    assert "the-sso-key" not in repr(settings)


def test_the_development_content_origin_is_another_host_than_the_app() -> None:
    assert Settings(
        data_dir=Path("."), secret_key="k" * 40, public_url="http://127.0.0.1:8123"
    ).content_origin == ("http://localhost:8123")
    assert Settings(
        data_dir=Path("."), secret_key="k" * 40, public_url="http://localhost:9"
    ).content_origin == ("http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://hub.example.com:8443", "a different port is not enough"),
        ("https://content.example.com/files", "an origin without a path"),
        ("ftp://content.example.com", "an absolute http(s) URL"),
    ],
)
def test_a_content_url_on_the_apps_host_or_with_a_path_is_refused(
    tmp_path: Path, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            env(tmp_path, SCORMHUB_PUBLIC_URL="https://hub.example.com", SCORMHUB_CONTENT_URL=value)
        )

    assert caught.value.variable == "SCORMHUB_CONTENT_URL"
    assert expected in str(caught.value)


@pytest.mark.parametrize("value", ["s3://", "http://bucket", "file://", "bucket/prefix"])
def test_a_storage_url_that_names_no_place_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env(tmp_path, SCORMHUB_STORAGE_URL=value))

    assert caught.value.variable == "SCORMHUB_STORAGE_URL"
