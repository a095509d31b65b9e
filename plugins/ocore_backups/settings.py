"""The backups plugin's settings: where backups are stored, how long a run may take, when a
policy counts as failing."""

from __future__ import annotations

from ocore_flask.config import (
    Duration,
    kinds,
    rules,
    section,
    setting,
    settings_of,
)

#: the folder under the app's instance folder that holds backups in development
DEVELOPMENT_FOLDER = "backups"


@section
class BackupsSettings:
    """The backups plugin's settings: the destination folder, the run timeout, failing."""

    backup_dir: str | None = setting(
        "BACKUP_DIR",
        kinds.absolute_path(),
        "Folder holding the backups, one folder per policy, owner-only permissions (0700 "
        "folders, 0600 files). Unset in development: `backups` in the app's instance folder; "
        "required in the other modes as soon as a backup policy exists.",
        example="/var/lib/ocore/backups",
    )

    run_timeout: Duration = setting(
        "BACKUP_RUN_TIMEOUT",
        kinds.duration(),
        "A backup or restore command running longer than this is killed on its server and the "
        "run recorded as failed.",
        default="6h",
        example="6h",
        checks=(rules.duration_between("1s", "72h"),),
    )

    failing_after: int = setting(
        "BACKUP_FAILING_AFTER",
        kinds.integer(1, 100),
        "A policy whose last this-many runs all failed is reported `failing` (health: "
        "degraded), even while its last success is still fresh.",
        default="3",
        example="3",
    )


SETTINGS = settings_of(BackupsSettings)
