from pathlib import Path

import pytest

from streamer.config import load_settings
from streamer.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "config" / "streamer.example.toml"

MINIMAL = """
[teams.acme]
app_key = "key"
app_secret = "s3cret-value"
refresh_token = "r3fresh-value"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "streamer.toml"
    path.write_text(text)
    return path


def test_example_config_is_valid() -> None:
    settings = load_settings(EXAMPLE, {})
    assert set(settings.teams) == {"acme"}
    assert settings.kafka.topics.members == "dropbox.members"


def test_defaults_point_at_real_dropbox(tmp_path: Path) -> None:
    team = load_settings(write(tmp_path, MINIMAL), {}).teams["acme"]
    assert team.api_url == "https://api.dropboxapi.com"
    assert team.token_url == "https://api.dropboxapi.com/oauth2/token"


def test_environment_overrides_file(tmp_path: Path) -> None:
    env = {
        "STREAMER_KAFKA__BOOTSTRAP_SERVERS": "broker:9092",
        "STREAMER_TEAMS__ACME__APP_KEY": "from-env",
        "STREAMER_STREAMS__AUDIT__ENABLED": "false",
    }
    settings = load_settings(write(tmp_path, MINIMAL), env)
    assert settings.kafka.bootstrap_servers == "broker:9092"
    assert settings.teams["acme"].app_key == "from-env"
    assert settings.streams.audit.enabled is False


def test_unrelated_streamer_variables_are_ignored(tmp_path: Path) -> None:
    env = {"STREAMER_CONFIG": "x.toml", "STREAMER_KAFKA_HOME": "/tmp/k"}
    assert load_settings(write(tmp_path, MINIMAL), env).kafka.partitions == 6


def test_team_can_come_from_environment_alone() -> None:
    env = {
        "STREAMER_TEAMS__ACME__APP_KEY": "k",
        "STREAMER_TEAMS__ACME__APP_SECRET": "s",
        "STREAMER_TEAMS__ACME__REFRESH_TOKEN": "r",
    }
    assert load_settings(None, env).teams["acme"].app_key == "k"


def test_secret_read_from_file_in_env(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("file-secret\n")
    env = {"STREAMER_TEAMS__ACME__APP_SECRET_FILE": str(secret)}
    team = load_settings(write(tmp_path, MINIMAL), env).teams["acme"]
    assert team.app_secret.get_secret_value() == "file-secret"


def test_secret_read_from_file_in_toml(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("tok-from-file")
    text = MINIMAL.replace('refresh_token = "r3fresh-value"', f'refresh_token_file = "{secret}"')
    team = load_settings(write(tmp_path, text), {}).teams["acme"]
    assert team.refresh_token.get_secret_value() == "tok-from-file"


def test_unreadable_secret_file_names_the_key(tmp_path: Path) -> None:
    env = {"STREAMER_TEAMS__ACME__APP_SECRET_FILE": str(tmp_path / "missing")}
    with pytest.raises(ConfigError, match=r"teams\.acme\.app_secret_file: file .*missing"):
        load_settings(write(tmp_path, MINIMAL), env)


def test_secrets_do_not_appear_in_repr(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), {})
    text = repr(settings) + str(settings)
    assert "s3cret-value" not in text
    assert "r3fresh-value" not in text


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap_server: unknown key"):
        load_settings(write(tmp_path, MINIMAL + '[kafka]\nbootstrap_server = "x"\n'), {})


def test_wrong_type_names_key_and_env_variable(tmp_path: Path) -> None:
    env = {"STREAMER_KAFKA__PARTITIONS": "many"}
    with pytest.raises(ConfigError, match=r"kafka\.partitions: .*STREAMER_KAFKA__PARTITIONS"):
        load_settings(write(tmp_path, MINIMAL), env)


def test_missing_credentials_say_how_to_set_them(tmp_path: Path) -> None:
    text = MINIMAL.replace('refresh_token = "r3fresh-value"\n', "")
    with pytest.raises(ConfigError, match=r"STREAMER_TEAMS__ACME__REFRESH_TOKEN"):
        load_settings(write(tmp_path, text), {})


def test_wrong_value_is_not_echoed(tmp_path: Path) -> None:
    # A secret pasted into the wrong key must not be printed back in the error.
    text = MINIMAL + '[kafka]\nsasl_password = "pw-123"\nsecurity_protocol = "SASL"\n'
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), {})
    assert "pw-123" not in str(info.value)
    assert "kafka.security_protocol" in str(info.value)


def test_sasl_requires_credentials(tmp_path: Path) -> None:
    text = MINIMAL + '[kafka]\nsecurity_protocol = "SASL_SSL"\n'
    with pytest.raises(ConfigError, match="sasl_mechanism, sasl_username, sasl_password"):
        load_settings(write(tmp_path, text), {})


def test_no_team_configured() -> None:
    with pytest.raises(ConfigError, match="teams: required"):
        load_settings(None, {})


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", {})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[teams\n"), {})


def test_api_url_must_be_http(tmp_path: Path) -> None:
    text = MINIMAL + 'api_url = "api.dropboxapi.com"\n'
    with pytest.raises(ConfigError, match=r"teams\.acme\.api_url: must start with https://"):
        load_settings(write(tmp_path, text), {})
