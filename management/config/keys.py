"""Typed global-setting keys (CloudStack's ConfigKey): one declaration per setting."""

from __future__ import annotations

from dataclasses import dataclass, field

TYPES = ("String", "Boolean", "Integer", "Long", "Float", "Double", "Range", "CSV", "Order", "WhitespaceSeparatedListWithOptions")
SCOPES = ("global", "zone", "cluster", "storagepool", "account", "domain", "imagestore", "managementserver")


@dataclass(frozen=True)
class ConfigKey:
    """A global setting: its name, category, type, default, description and scope.

    ``default`` is the string form stored in the ``configuration`` table (CloudStack stores
    every value as a string). ``is_dynamic`` False means a restart is needed to apply it.
    ``options`` lists allowed values for enumerated settings; ``min``/``max`` bound numbers.
    """

    name: str
    category: str
    default: str | None
    description: str
    type: str = "String"
    scope: str = "global"
    is_dynamic: bool = True
    component: str = "management-server"
    options: tuple[str, ...] = field(default_factory=tuple)
    min: float | None = None
    max: float | None = None
    group: str = "Miscellaneous"
    subgroup: str = "Others"
    secure: bool = False
