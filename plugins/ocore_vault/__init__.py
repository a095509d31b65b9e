"""First-party plugin ``vault``: SSH credentials encrypted at rest."""

from ocore_vault.plugin import VaultPlugin

plugin = VaultPlugin()
