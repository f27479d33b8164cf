"""Name lookup shared by the level-2 modules: ``get("relu")``, ``serialize``/``deserialize``.

Each module (losses, metrics, ...) keeps one ``Registry`` of the names a user may type and the
classes a saved config may name, so the string handling and its error messages live in one place.
A serialized object is the plain dict ``{"class_name": "L2", "config": {"l2": 0.01}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Registry"]


class Registry:
    """Names and classes of one kind of object (``kind`` is the argument name used in errors).

    ``base`` is the common base class: its instances pass through ``get`` unchanged and its
    subclasses are instantiated with default arguments, as Keras does.
    """

    def __init__(self, kind: str, base: type):
        self.kind = kind
        self.base = base
        self._factories: dict[str, Callable[[], Any]] = {}
        self._classes: dict[str, type] = {}

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, names={list(self.names())})"

    def add(self, factory: Callable[[], Any], *names: str) -> None:
        """Make ``get(name)`` return ``factory()`` for each name; classes become deserializable."""
        for name in names:
            self._factories[name] = factory
        if isinstance(factory, type):
            self._classes[factory.__name__] = factory

    def names(self) -> tuple[str, ...]:
        """The strings ``get`` accepts, sorted."""
        return tuple(sorted(self._factories))

    def create(self, name: str) -> Any:
        """A new object for the string ``name``; ValueError listing the valid names otherwise."""
        key = name.lower()
        if key not in self._factories:
            raise ValueError(
                f"Unknown {self.kind} {name!r}: expected one of {list(self.names())}. "
                f"Received: {self.kind}={name!r}"
            )
        return self._factories[key]()

    def get(self, identifier: Any) -> Any:
        """An object from an instance (returned as is), a subclass, a name or a serialized dict."""
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier()
        if isinstance(identifier, str):
            return self.create(identifier)
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        raise TypeError(
            f"{self.kind} must be a string name, a {self.base.__name__} object or a "
            f"serialized dict. Received: {self.kind}={identifier!r} "
            f"(of type {type(identifier).__name__})"
        )

    @staticmethod
    def serialize(obj: Any) -> dict:
        """``{"class_name": ..., "config": obj.get_config()}``: plain, JSON-ready data."""
        return {"class_name": type(obj).__name__, "config": obj.get_config()}

    def deserialize(self, config: dict, custom_objects: dict[str, type] | None = None) -> Any:
        """The object a ``serialize`` dict describes; ``custom_objects`` maps user class names."""
        if not isinstance(config, dict) or "class_name" not in config:
            raise ValueError(
                f"A serialized {self.kind} must be a dict with a 'class_name' key. "
                f"Received: config={config!r}"
            )
        classes = {**self._classes, **(custom_objects or {})}
        name = config["class_name"]
        if name not in classes:
            raise ValueError(
                f"Unknown {self.kind} class {name!r}: expected one of "
                f"{sorted(classes)}; pass custom_objects={{{name!r}: cls}} for your "
                f"own class. Received: class_name={name!r}"
            )
        return classes[name].from_config(dict(config.get("config", {})))
