"""The token-exchange names (RFC 8693) that auth_service and the services exchanging tokens there agree on."""

#: The grant_type of a token exchange at POST /auth/token (RFC 8693 §2.1).
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
#: The one token type exchanged, as subject and as result (RFC 8693 §3).
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
