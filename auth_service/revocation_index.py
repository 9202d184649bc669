"""Index the revocation keys a Redis holds from before auth_service kept an index.

The one upgrade step of the deny-list (docs/operations.md, "Upgrading"): run it once, as
the Redis operator, before the new auth_service starts on a Redis that an older one
wrote to::

    REDIS_URL=redis://default:<operator password>@<host>:6379/0 python -m auth_service.revocation_index

It needs SCAN, which no service's Redis user may run. A Redis that only the current
auth_service has written to needs nothing: auth_service marks its index complete itself.
"""

from __future__ import annotations

import click
import redis

from secure_service import redis_client

from .sessions import index_existing_revocations


@click.command()
@click.option("--redis-url", envvar="REDIS_URL", required=True, help="The Redis operator's URL (or REDIS_URL).")
def main(redis_url: str) -> None:
    """Index every revocation key by its expiry, then mark the index complete."""
    try:
        indexed = index_existing_revocations(redis_client(redis_url))
    except redis.RedisError as e:
        # The URL holds a password: name the failure, never the URL.
        raise click.ClickException(
            f"Redis refused or did not answer ({type(e).__name__}); use the operator's URL"
        ) from e
    click.echo(f"revocation_index: {indexed} revocation keys indexed; the index is marked complete")


if __name__ == "__main__":
    main()
