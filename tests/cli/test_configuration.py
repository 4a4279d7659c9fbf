"""Settings from the environment, with embedded defaults (docs/configuration.md)."""

from submeter import settings as project_settings


def test_secret_key_is_generated_once_and_kept_under_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("SUBMETER_SECRET_KEY", raising=False)
    monkeypatch.setattr(project_settings, "DATA_DIR", tmp_path)

    first = project_settings._secret_key()

    assert len(first) >= 50
    assert project_settings._secret_key() == first
    kept = tmp_path / "secret_key"
    assert kept.read_text() == first
    assert kept.stat().st_mode & 0o777 == 0o600


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBMETER_SECRET_KEY", "from-the-environment")
    monkeypatch.setattr(project_settings, "DATA_DIR", tmp_path)

    assert project_settings._secret_key() == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()
