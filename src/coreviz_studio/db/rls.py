"""Row-level security: the database's own wall between organizations.

Every table of library data has a policy that shows a transaction only the rows of the
organization in the setting `app.organization_id` (and, for a collection-scoped API key, only the
collections in `app.dataset_ids`). The application's sessions run as the role `coreviz_app`,
which cannot bypass those policies; a transaction that set no organization sees no library rows
at all. `scope_session` is the one place where requests and jobs set it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session, SessionTransaction

APP_ROLE = "coreviz_app"
ORG_SETTING = "app.organization_id"
DATASETS_SETTING = "app.dataset_ids"
_SCOPE = "coreviz_scope"
_APPLIED = "coreviz_scope_applied"  # a new token each time _on_begin applies the scope
_SET = text("SELECT set_config(:org_setting, :org, true), set_config(:ds_setting, :ds, true)")


def scope_session(session: Session, organization_id: uuid.UUID,
                  dataset_ids: Iterable[uuid.UUID] | None = None) -> None:
    """From now on every transaction of `session` sees only that organization's rows (and only
    those collections, when given)."""
    # '' is no scope; '{}' (an empty list) is a scope of no collection: none, not all.
    datasets = ("" if dataset_ids is None
                else "{" + ",".join(sorted(str(d) for d in dataset_ids)) + "}")
    scope = session.info[_SCOPE] = (str(organization_id), datasets)
    if session.in_transaction():
        applied = session.info.get(_APPLIED)
        connection = session.connection()  # a connection that begins now: _on_begin applies it
        if session.info.get(_APPLIED) is applied:  # it had begun before: apply it here
            _apply(connection, scope)
    # else: _on_begin applies it when the next transaction starts


def _apply(connection: Connection, scope: tuple[str, str]) -> None:
    # set_config(..., true) is SET LOCAL: it ends with the transaction, so a pooled
    # connection never carries one request's organization into the next.
    connection.execute(_SET, {"org_setting": ORG_SETTING, "org": scope[0],
                              "ds_setting": DATASETS_SETTING, "ds": scope[1]})


@event.listens_for(Session, "after_begin")
def _on_begin(session: Session, transaction: SessionTransaction,
              connection: Connection) -> None:
    scope = session.info.get(_SCOPE)
    # A savepoint is inside a transaction that has the scope already (SET LOCAL holds until
    # the outer transaction ends, whatever is rolled back to a savepoint).
    if scope is not None and not transaction.nested:
        _apply(connection, scope)
        session.info[_APPLIED] = object()
