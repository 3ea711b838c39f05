"""OCPP 1.6J specifics: the configuration-key table (keys) and its store (configuration)."""
