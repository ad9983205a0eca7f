"""Piccolo tables. They never leave `integrations/db`: repositories map them to domain dataclasses."""

from piccolo.columns import JSONB, UUID, BigInt, Float, ForeignKey, Integer, Text, Timestamptz, Varchar
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


class CourseRow(Table, tablename="course"):
    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, index=True)
    title = Varchar(length=300)
    standard = Varchar(length=20)
    edition = Varchar(length=10, null=True, default=None)
    status = Varchar(length=20)
    status_message = Text(null=True, default=None)
    engine = Varchar(length=20)
    package_key = Varchar(length=100)
    package_bytes = BigInt()
    file_name = Varchar(length=255)
    self_enroll_token = Varchar(length=64, unique=True)
    warnings = JSONB(default=[])
    scos = JSONB(default=[])
    mastery_score = Float(null=True, default=None)
    import_handle = Varchar(length=200, null=True, default=None)
    import_attempts = Integer(default=0)
    created_at = Timestamptz()
    updated_at = Timestamptz(index=True)


TABLES: tuple[type[Table], ...] = (WorkspaceRow, LoginTokenRow, CourseRow)
