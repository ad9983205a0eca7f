"""Piccolo tables. They never leave `integrations/db`: repositories map them to domain dataclasses."""

from piccolo.columns import UUID, ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class WorkspaceRow(Table, tablename="workspace"):
    id = UUID(primary_key=True)
    name = Varchar(length=200)
    kind = Varchar(length=20)
    plan = Varchar(length=10, default="trial")
    engine = Varchar(length=20, default="builtin")
    crm = Varchar(length=20, default="local")
    crm_location_id = Varchar(length=100, null=True, default=None, unique=True)
    created_at = Timestamptz()


class LoginTokenRow(Table, tablename="login_token"):
    token_hash = Varchar(length=64, primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, index=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


TABLES: tuple[type[Table], ...] = (WorkspaceRow, LoginTokenRow)
