"""The plugin contract: the declaration a subsystem (first- or third-party) publishes.

A plugin is a ``Plugin`` instance published in the ``ocore_flask.plugins`` entry-point group.
It is a light declaration: its name, what it requires, its typed settings section and cross
rules, and the hooks it implements (``ocore_flask.hookspecs``), each a callable or an
``"module:attribute"`` import path resolved on first use. Importing a declaration must not
import the plugin's runtime (SQLAlchemy, paramiko…): ``ocore config check`` loads only these.

    plugin = Plugin(
        "mail",
        "SMTP mail: TLS done right, a development sink, health.",
        settings=MailSettings,
        hooks={
            "init_app": "ocore_mail.service:init_app",
            "cli_commands": "ocore_mail.cli:commands",
        },
    )
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ocore_flask.hookspecs import HookSpec

if TYPE_CHECKING:
    from ocore_flask.config.declarations import CrossRule

ENTRY_POINT_GROUP = "ocore_flask.plugins"

#: A hook implementation: the callable itself, or its ``"module:attribute"`` import path.
HookRef = str | Callable[..., Any]


@dataclass(frozen=True, eq=False)
class Plugin:
    """What a plugin declares. Compared by identity: two declarations are two plugins."""

    #: entry-point name, lowercase ``[a-z][a-z0-9_]*``
    name: str
    description: str = ""
    #: plugins that must be initialised first (each is also an import edge: use its accessor)
    requires: tuple[str, ...] = ()
    #: a core plugin cannot be disabled with OCORE_DISABLED_PLUGINS
    core: bool = False
    #: the plugin's settings section: a class made with ``ocore_flask.config.section``
    settings: type | None = None
    #: cross-field rules over its settings
    cross_rules: tuple[CrossRule, ...] = ()
    #: hook name -> implementation (see ``ocore_flask.hookspecs``)
    hooks: Mapping[str, HookRef] = field(default_factory=dict)
    #: hooks this plugin specifies for others to implement
    hookspecs: tuple[HookSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "requires", tuple(self.requires))
        object.__setattr__(self, "cross_rules", tuple(self.cross_rules))
        object.__setattr__(self, "hookspecs", tuple(self.hookspecs))
        object.__setattr__(self, "hooks", MappingProxyType(dict(self.hooks)))

    def __repr__(self) -> str:
        return f"<Plugin {self.name}>"


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports a plugin's public names from its runtime modules
    on first use (``{"VaultError": "ocore_vault.crypto"}``), so a declaration module can offer
    its errors and types without importing its runtime when it is loaded."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
