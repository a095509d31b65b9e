"""Create vault_credentials: encrypted SSH passwords and private keys, one key id per row.

Revision ID: vault_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "vault_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table; CHECKs tie the key_id column to the key id inside each stored value."""
    op.create_table(
        "vault_credentials",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("username", sa.Text()),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("passphrase", sa.LargeBinary()),
        sa.Column("fingerprint", sa.Text()),
        sa.Column("key_id", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default=sa.text("1")),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.UniqueConstraint("name", name="uq_vault_credentials_name"),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 128", name="ck_vault_credentials_name_length"
        ),
        sa.CheckConstraint("kind IN ('password', 'private_key')", name="ck_vault_credentials_kind"),
        sa.CheckConstraint("octet_length(key_id) = 8", name="ck_vault_credentials_key_id_size"),
        # Stored value layout: "SV", version, algorithm, then the 8-byte key id at offset 4.
        sa.CheckConstraint(
            "substring(secret FROM 5 FOR 8) = key_id", name="ck_vault_credentials_secret_key_id"
        ),
        sa.CheckConstraint(
            "passphrase IS NULL OR substring(passphrase FROM 5 FOR 8) = key_id",
            name="ck_vault_credentials_passphrase_key_id",
        ),
        sa.CheckConstraint(
            "kind = 'private_key' OR passphrase IS NULL",
            name="ck_vault_credentials_passphrase_kind",
        ),
        sa.CheckConstraint(
            "(kind = 'private_key') = (fingerprint IS NOT NULL)",
            name="ck_vault_credentials_fingerprint_kind",
        ),
        sa.CheckConstraint("version >= 1", name="ck_vault_credentials_version"),
    )
    op.create_index("ix_vault_credentials_key_id", "vault_credentials", ["key_id"])


def downgrade() -> None:
    """Drop the table (and with it every stored credential)."""
    op.drop_index("ix_vault_credentials_key_id", table_name="vault_credentials")
    op.drop_table("vault_credentials")
