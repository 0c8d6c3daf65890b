from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEQA_DATA_DIR", "/tmp/x")
    monkeypatch.setenv("CITEQA_PORT", "9001")
    settings = Settings()
    assert settings.data_dir == Path("/tmp/x") and settings.port == 9001
    assert settings.engine_config().data_dir == Path("/tmp/x")


def test_a_bad_setting_names_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEQA_PORT", "eighty")
    with pytest.raises(ValidationError, match="port"):
        Settings()
    monkeypatch.setenv("CITEQA_PORT", "8000")
    monkeypatch.setenv("CITEQA_BACKEND", "annoy")
    with pytest.raises(ValidationError, match="backend"):
        Settings()


def test_a_blank_api_key_means_no_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEQA_API_KEY", "")
    assert Settings().api_key is None


@pytest.mark.parametrize(
    ("env", "origins"),
    [
        ("", []),
        ("http://localhost:3000", ["http://localhost:3000"]),
        (
            " http://localhost:3000 , https://app.example.org:8443,",
            ["http://localhost:3000", "https://app.example.org:8443"],
        ),
        ('["http://[::1]:8080", "*"]', ["http://[::1]:8080", "*"]),
    ],
)
def test_cors_origins_are_comma_separated_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch, env: str, origins: list[str]
) -> None:
    monkeypatch.setenv("CITEQA_CORS_ORIGINS", env)
    assert Settings().cors_origins == origins


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ("http://localhost:3000/", "'http://localhost:3000/' is not an origin"),
        ("localhost:3000", "'localhost:3000' is not an origin"),
        ('["http://a.example"', "not a JSON list of origins"),
    ],
)
def test_a_bad_cors_origin_is_named(monkeypatch: pytest.MonkeyPatch, env: str, says: str) -> None:
    monkeypatch.setenv("CITEQA_CORS_ORIGINS", env)
    with pytest.raises(ValidationError, match="cors_origins") as error:
        Settings()
    assert says in str(error.value)
