"""Scope names more than one service must agree on."""

#: The scope of the token auth_service mints for itself to call users_service's internal
#: credential check; the one scope that endpoint accepts, and that no client may be granted.
CREDENTIALS_SCOPE = "users:credentials"

#: The scope of the console's own service token (web_service, client credentials): it may
#: sign users up for the browsers it serves and name their addresses (end_user.py) there.
SIGNUP_SCOPE = "users:signup"
