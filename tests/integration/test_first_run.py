"""First run: `idp --env-file FILE` reads its settings from the file, as `idp --help` says."""

import os
import subprocess
import sys
from pathlib import Path


def test_env_file_is_read(tmp_path: Path):
    database = tmp_path / "from-env-file.sqlite3"
    env_file = tmp_path / "idp.env"
    env_file.write_text(f"DATABASE_URL=sqlite:///{database}\nIDP_INSTANCE_PATH={tmp_path / 'instance'}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "IDP_INSTANCE_PATH")}
    idp = Path(sys.executable).parent / "idp"
    done = subprocess.run([str(idp), "--env-file", str(env_file), "db", "upgrade"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert database.exists()
