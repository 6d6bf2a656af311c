"""Typed forwarding from the :class:`~fairwheel.node.Node` facade to its services.

``search = forward("serving", ServingService.search)`` makes ``node.search(...)`` call
``node.serving.search(...)`` with the service method's own signature and docstring, so the
facade stays one line per use case and mypy checks every call through it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["forward"]


class _Forward(Generic[P, R]):
    def __init__(self, service: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.service = service
        self.name = method.__name__
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Forward[P, R]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, R]: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        method: Callable[P, R] = getattr(getattr(obj, self.service), self.name)
        return method


def forward(service: str, method: Callable[Concatenate[Any, P], R]) -> _Forward[P, R]:
    """A facade attribute that calls ``method`` on the facade's ``service`` attribute."""
    return _Forward(service, method)
