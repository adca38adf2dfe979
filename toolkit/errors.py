"""Errors a user can cause. The CLI renders them as one line and exits with code 2."""


class ToolkitError(Exception):
    """A problem with the user's input, configuration or environment (not a bug)."""


class InputError(ToolkitError):
    """An input path or document that cannot be used."""


class ModelError(ToolkitError):
    """A model reference that cannot be resolved or loaded."""


class ConfigError(ToolkitError):
    """A configuration file or option that does not validate."""


class OptionError(ConfigError):
    """An option value that does not validate. It names the option's field (``max_length``): the
    CLI prints the field as its flag (``--max-length``), the server as the request field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class RouteError(ToolkitError):
    """No model translates a language pair (no route in the registry, or ``--model`` does not cover it)."""
