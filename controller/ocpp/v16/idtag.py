"""OCPP 1.6 idTags and the core's tokens, both ways.

Rules kept here (OCPP 1.6 edition 2 section 7.28 IdToken):
- An idTag is a token of one fixed type, ISO14443 (what a card reader produces), so every 1.6
  comparison behaves as a case-insensitive comparison of idTags.
- Free vend (the core's NoAuthorization token) goes on the wire as idTag "FreeVend".
"""

from __future__ import annotations

from controller.core.vocabulary import Token, TokenType

FREE_VEND_ID_TAG = "FreeVend"


def token(id_tag: str, parent_id_tag: str | None = None) -> Token:
    return Token(id_tag, TokenType.ISO14443, parent_id_tag)


def id_tag(t: Token) -> str:
    return FREE_VEND_ID_TAG if t.type is TokenType.NO_AUTHORIZATION else t.id
