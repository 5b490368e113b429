"""A model's own options (``seed``, ``frame_size``, ``strength``...): their types, bounds and
defaults, and the one place a value given by a user is read and checked.

Values arrive as text from the command line (``--option seed=7``) and a manifest, or typed from
the UI form's JSON; both are read by :meth:`Option.read`. What goes into a create body is always
the typed value, so the service never sees a boolean given as the string ``"true"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from reskin.errors import InputError

#: A typed option value, as it goes into a create body.
OptionValue = bool | int | float | str
Kind = Literal["bool", "int", "float", "choice"]

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    """One field of a model's create body that a user may set."""

    name: str
    kind: Kind
    description: str
    #: The service's default, shown to users; None when the service picks (a random seed).
    default: OptionValue | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    #: Choices compared without regard to case (Kling's ``provider``); sent as listed.
    case_insensitive: bool = False
    #: A bound or default no first-party source gives (shared/API.md): shown as assumed.
    assumed: bool = False

    @property
    def accepts(self) -> str:
        """What the option takes, in words for a one-line error or the models table."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        what = "a whole number" if self.kind == "int" else "a number"
        if self.minimum is not None and self.maximum is not None:
            return f"{what} from {_shown(self.minimum)} to {_shown(self.maximum)}"
        if self.minimum is not None:
            return f"{what} of at least {_shown(self.minimum)}"
        return what

    def read(self, raw: object, *, model: str) -> OptionValue:
        """``raw`` (text, or a JSON value) as this option's typed value; :class:`InputError`
        naming the option and what it accepts when it is not one."""
        value = self._typed(raw)
        if value is None:
            shown = repr(raw) if isinstance(raw, str) else str(raw)
            raise InputError(
                f"option {self.name} of {model}: {shown} is not accepted, give {self.accepts}"
            )
        return value

    def _typed(self, raw: object) -> OptionValue | None:
        if self.kind == "bool":
            return _bool(raw)
        if self.kind == "choice":
            return self._choice(raw)
        number = _number(raw, whole=self.kind == "int")
        if number is None:
            return None
        if self.minimum is not None and number < self.minimum:
            return None
        if self.maximum is not None and number > self.maximum:
            return None
        return number

    def _choice(self, raw: object) -> str | None:
        if not isinstance(raw, str):
            return None
        for choice in self.choices:
            if raw == choice or (self.case_insensitive and raw.lower() == choice.lower()):
                return choice
        return None


def _shown(bound: float) -> str:
    """A bound as a person writes it: 4294967295, not 4.29497e+09."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _bool(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def _number(raw: object, *, whole: bool) -> int | float | None:
    if isinstance(raw, bool):  # a bool is an int to Python, never to a user
        return None
    value: float
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(value):
        return None
    if whole:
        return int(value) if value.is_integer() else None
    return value


def read_options(
    options: Mapping[str, object], known: tuple[Option, ...], *, model: str
) -> dict[str, OptionValue]:
    """Every option in ``options`` typed and checked, in the order given; :class:`InputError`
    naming the first unknown option (with the ones ``model`` takes) or bad value."""
    by_name = {option.name: option for option in known}
    typed: dict[str, OptionValue] = {}
    for name, raw in options.items():
        option = by_name.get(name)
        if option is None:
            takes = ", ".join(by_name) if by_name else "none"
            raise InputError(f"unknown option {name!r} for {model}: it takes {takes}")
        typed[name] = option.read(raw, model=model)
    return typed


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """``["seed=7", "frame_size=960:960"]`` as a mapping; :class:`InputError` for a pair
    without ``=`` or a name given twice."""
    options: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"option {pair!r} is not NAME=VALUE: write it like seed=7")
        if name in options:
            raise InputError(f"option {name} is given twice: keep one")
        options[name] = value.strip()
    return options
