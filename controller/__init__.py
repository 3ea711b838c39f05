"""The evsed daemon: charging core, real-time loop, protocols, storage, API, CLI."""

__version__ = "0.1.0"
