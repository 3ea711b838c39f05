"""The authorization engine both front ends share: what the station knows of a token (its local
list, its cache), the rules for deciding online and offline, and its storage in SQLite.

Front ends bring the wire: they parse their protocol's token information into ``TokenInfo``,
say which rules are on (``AuthorizationPolicy``, from their configuration keys) and how to ask
their backend; the engine decides.
"""
