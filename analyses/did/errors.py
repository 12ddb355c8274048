"""The DID package's error type, in a module of its own so that every estimator module can raise it
without importing another estimator module."""


class DIDError(ValueError):
    """The data cannot support the requested estimate; the message says what to change."""
