"""No public secret: without DJANGO_SECRET_KEY the settings generate a random secret on the first run,
keep it outside the repository (mode 0600) and reuse it; a workspace key encrypted under it does not
decrypt with the old public default (issue 15)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from playground import crypto

ROOT = Path(__file__).resolve().parents[2]
OLD_DEFAULT = "insecure-local-playground-key-set-DJANGO_SECRET_KEY"
PRINT_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


def fresh_settings(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter whose settings are loaded from scratch, with ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "PLAYGROUND_SECRET_FILE")}
    base["DJANGO_SETTINGS_MODULE"] = "playground.settings"
    command = [sys.executable, "-c", code]
    return subprocess.run(command, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, check=True)


def test_two_fresh_loads_share_the_generated_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / "data" / "secret-key"
    first = fresh_settings(PRINT_KEY, PLAYGROUND_SECRET_FILE=str(secret_file))
    second = fresh_settings(PRINT_KEY, PLAYGROUND_SECRET_FILE=str(secret_file))
    key = first.stdout.strip().splitlines()[-1]
    assert key == second.stdout.strip().splitlines()[-1]
    assert len(key) >= 50 and key != OLD_DEFAULT
    assert secret_file.read_text().strip() == key
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.parent.stat().st_mode) == 0o700
    # Another file, another secret: it is random, not derived from anything in the repository.
    other = fresh_settings(PRINT_KEY, PLAYGROUND_SECRET_FILE=str(tmp_path / "other"))
    assert other.stdout.strip().splitlines()[-1] != key


def test_startup_names_the_file_never_the_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret-key"
    done = fresh_settings(
        "import django; django.setup()", PLAYGROUND_SECRET_FILE=str(secret_file), DJANGO_LOG_LEVEL="INFO"
    )
    lines = [line for line in done.stderr.splitlines() if str(secret_file) in line]
    assert len(lines) == 1 and "generated" in lines[0]
    assert secret_file.read_text().strip() not in done.stderr + done.stdout
    again = fresh_settings("import django; django.setup()", PLAYGROUND_SECRET_FILE=str(secret_file))
    assert f"using the local secret in {secret_file}" in again.stderr


def test_the_default_place_is_the_xdg_data_directory(tmp_path: Path) -> None:
    fresh_settings(PRINT_KEY, XDG_DATA_HOME=str(tmp_path))
    assert (tmp_path / "fireworks-playground" / "secret-key").is_file()


def test_a_set_secret_key_writes_no_file(tmp_path: Path) -> None:
    done = fresh_settings(
        PRINT_KEY, DJANGO_SECRET_KEY="from-the-environment-" + "x" * 40, XDG_DATA_HOME=str(tmp_path)
    )
    assert done.stdout.strip().endswith("x" * 40)
    assert not any(tmp_path.iterdir())


def test_the_public_default_is_gone_from_the_settings() -> None:
    source = (ROOT / "playground" / "settings.py").read_text()
    assert OLD_DEFAULT not in source and "insecure" not in source.lower()
    assert settings.SECRET_KEY != OLD_DEFAULT


@pytest.mark.django_db
def test_a_workspace_key_under_the_generated_secret_does_not_open_with_the_old_default(
    tmp_path: Path,
) -> None:
    generated = fresh_settings(PRINT_KEY, PLAYGROUND_SECRET_FILE=str(tmp_path / "k")).stdout.split()[-1]
    with override_settings(SECRET_KEY=generated, PLAYGROUND_ENCRYPTION_KEY=""):
        token = crypto.encrypt("fw_WORKSPACE_KEY_1234")
        assert crypto.decrypt(token) == "fw_WORKSPACE_KEY_1234"
    with override_settings(SECRET_KEY=OLD_DEFAULT, PLAYGROUND_ENCRYPTION_KEY=""), pytest.raises(ValueError):
        crypto.decrypt(token)
