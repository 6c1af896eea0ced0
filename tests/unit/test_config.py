"""Settings: the environment first, then Streamlit's secrets file, then generated secrets."""

from __future__ import annotations

from pathlib import Path

from core.config import admin_password, settings_from_env


def test_the_admin_password_comes_from_the_environment_before_the_secrets_file(
    tmp_path: Path,
) -> None:
    secrets_toml = tmp_path / "secrets.toml"
    secrets_toml.write_text('admin_password = "from-the-file"\n', encoding="utf-8")
    env = {"BEIDUI_DATA_DIR": str(tmp_path)}
    assert settings_from_env(env, secrets_toml).admin_password == "from-the-file"
    env["BEIDUI_ADMIN_PASSWORD"] = "from-env"
    assert settings_from_env(env, secrets_toml).admin_password == "from-env"


def test_without_any_the_admin_password_is_generated_once_and_kept_owner_only(
    tmp_path: Path,
) -> None:
    settings = settings_from_env({"BEIDUI_DATA_DIR": str(tmp_path)}, tmp_path / "none.toml")
    first = admin_password(settings)
    assert len(first) >= 16 and admin_password(settings) == first
    assert settings.admin_password_path.stat().st_mode & 0o077 == 0


def test_the_default_database_is_a_sqlite_file_in_the_data_folder(tmp_path: Path) -> None:
    settings = settings_from_env({"BEIDUI_DATA_DIR": str(tmp_path)}, tmp_path / "none.toml")
    assert settings.database_url == f"sqlite:///{tmp_path / 'beidui.db'}"


def test_the_server_host_for_streamlit_comes_from_base_url(tmp_path: Path) -> None:
    """`make run` hands it to --browser.serverAddress, so Streamlit never asks an internet
    service for this machine's public address."""
    from core.setup import server_host

    env = {"BEIDUI_DATA_DIR": str(tmp_path), "BASE_URL": "https://beidui.example:8443/"}
    assert server_host(settings_from_env(env, tmp_path / "none.toml"), 8501) == "beidui.example"
