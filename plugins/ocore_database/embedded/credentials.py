"""credentials.json: the superuser's generated password and the last port, kept mode 0600."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping

from .errors import EmbeddedPostgresError


class CredentialsMixin:
    """EmbeddedPostgres's credentials.json: load, generate once, save."""

    def _load_credentials(self) -> dict[str, object]:
        path = self.data_dir / "credentials.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise EmbeddedPostgresError(f"unreadable {path}: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def _ensure_credentials(self) -> dict[str, str]:
        data = self._load_credentials()
        if not data.get("password"):
            if (self.pgdata / "PG_VERSION").exists():
                raise EmbeddedPostgresError(
                    f"{self.data_dir / 'credentials.json'} is missing but the cluster exists; "
                    f"restore the file or delete {self.data_dir} to start afresh"
                )
            data = {"user": self.user, "password": secrets.token_urlsafe(24)}
            self._write_credentials(data)
        elif data.get("user") != self.user:
            raise EmbeddedPostgresError(
                f"the cluster in {self.data_dir} was initialised for user {data.get('user')!r}, "
                f"not {self.user!r}"
            )
        return {"user": str(data["user"]), "password": str(data["password"])}

    def _save_credentials(self, *, port: int) -> None:
        data = self._load_credentials()
        if data.get("port") != port:
            data["port"] = port
            self._write_credentials(data)

    def _write_credentials(self, data: Mapping[str, object]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "credentials.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
