"""Every server refuses to start on data the app must not serve: vault rows under a key no
configured key has exit 78, naming the key id, with no worker respawned (gunicorn) or started at
all (``ocore serve`` builds the app before granian or waitress binds)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from ocore_database.testing import sqlalchemy_url
from ocore_flask.testing import JWT_SECRET, base_env, free_port, run, script
from ocore_vault.crypto import KeyRing, VaultKey
from ocore_vault.store import CredentialKind, CredentialStore

KEY_A = "vault-key-A-Xq7Lp2Rm9Tz4Wc8Ns1Vb6Hd3Jf5"
KEY_B = "vault-key-B-Gk2Yh8Pn5Ue3Ma7Qr9Sd4Lw1Zx6"
SERVERS = {
    "gunicorn": ([script("gunicorn"), "wsgi:app"], "Booting worker", 1),
    "granian": ([script("ocore"), "serve", "--server", "granian"], "Spawning worker", 0),
    "waitress": ([script("ocore"), "serve", "--server", "waitress"], "serving on", 0),
}


@pytest.mark.parametrize("server", list(SERVERS))
def test_a_foreign_vault_key_stops_the_server_with_78(server, database_url):
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        ring = KeyRing(VaultKey.from_secret(KEY_A))
        CredentialStore(engine, ring).put("web-1", CredentialKind.PASSWORD, "Password-1-xyz")
    finally:
        engine.dispose()
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": database_url,
            "SSH_ENCRYPTION_KEY": KEY_B,
            "SERVER_PORT": str(free_port()),
        }
    )
    argv, worker_line, workers = SERVERS[server]
    result = run(argv, env, timeout=60)
    assert result.returncode == 78, result.stderr[-3000:]
    assert result.stderr.count(worker_line) == workers, "no worker may be (re)started"
    assert VaultKey.from_secret(KEY_A).key_id_hex in result.stderr
    assert KEY_A not in result.stderr and KEY_B not in result.stderr
    assert "Traceback" not in result.stderr
