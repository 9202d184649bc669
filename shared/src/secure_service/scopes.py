"""Scope names more than one service must agree on."""

#: The scope of the token auth_service mints for itself to call users_service's internal
#: credential check; the one scope that endpoint accepts, and that no client may be granted.
CREDENTIALS_SCOPE = "users:credentials"
