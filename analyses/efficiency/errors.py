"""The efficiency package's error type, in a module of its own so that every model module can raise it."""


class EfficiencyError(ValueError):
    """The data cannot support the requested efficiency model; the message says what to change."""
