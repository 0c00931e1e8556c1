"""Settings are typed and bounded, and bad values name the variable at start-up."""

from __future__ import annotations

import pytest

from app.config import Settings, SettingsError, load_settings


def test_defaults_are_the_embedded_setup(monkeypatch):
    monkeypatch.delenv("LABLEDGER_DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///./labledger.db"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8000)
    assert (settings.mqtt_host, settings.mqtt_port) == ("localhost", 1883)


def test_webhook_secrets_are_comma_separated_and_hidden(monkeypatch):
    monkeypatch.setenv("LABLEDGER_STRIPE_WEBHOOK_SECRETS", "whsec_old, whsec_new")
    settings = Settings(_env_file=None)
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == [
        "whsec_old",
        "whsec_new",
    ]
    assert "whsec_old" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LABLEDGER_MQTT_PORT", "70000"),
        ("LABLEDGER_HTTP_PORT", "zero"),
        ("LABLEDGER_DATABASE_URL", "mysql://x"),
        ("LABLEDGER_MQTT_SHARED_GROUP", "bad/group"),
        ("LABLEDGER_LOG_LEVEL", "LOUD"),
        ("LABLEDGER_MQTT_CLIENT_ID", "has space"),
    ],
)
def test_bad_value_fails_naming_the_setting(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as failure:
        load_settings()
    assert variable in str(failure.value)


def test_env_file_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("LABLEDGER_MQTT_HOST", raising=False)
    env = tmp_path / ".env"
    env.write_text("LABLEDGER_MQTT_HOST=broker.lab\n")
    assert Settings(_env_file=env).mqtt_host == "broker.lab"
