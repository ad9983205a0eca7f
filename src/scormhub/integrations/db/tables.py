"""Piccolo tables. They never leave `integrations/db`: repositories map them to domain dataclasses."""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigInt,
    Boolean,
    Bytea,
    DoublePrecision,
    Float,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
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
    sync_tags = Boolean(default=True)
    sync_notes = Boolean(default=True)
    sync_records = Boolean(default=True)


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
    organization = JSONB(null=True, default=None)  # the manifest model's tree (domain/scorm/organization.py)
    # Who gets a certificate: "completed" or "passed" (certificate_logo, beside it, is raw SQL only).
    certificate_rule = Varchar(length=20, default="completed")
    # The current version's number (course_version); the row's package fields describe that version.
    version = Integer(default=1)


class ContactRow(Table, tablename="contact"):
    """The built-in contact book (the local CRM of standalone workspaces)."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, index=True)
    first_name = Varchar(length=100)
    last_name = Varchar(length=100)
    email = Varchar(length=254)  # lower-cased; unique per workspace (see the migration's index)
    company = Varchar(length=200, null=True, default=None)
    tags = JSONB(default=[])
    created_at = Timestamptz()


class ContactNoteRow(Table, tablename="contact_note"):
    id = UUID(primary_key=True)
    # Set when the note comes from the outbox, so a redelivered write adds no second note.
    idempotency_key = Varchar(length=200, null=True, default=None, unique=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    contact_id = ForeignKey(references=ContactRow, on_delete=OnDelete.cascade, index=True)
    body = Text()
    created_at = Timestamptz()


class EnrollmentRow(Table, tablename="enrollment"):
    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, index=True)
    course_id = ForeignKey(references=CourseRow, on_delete=OnDelete.cascade, index=True)
    contact_id = Varchar(length=100)  # the CRM's contact id
    learner_name = Varchar(length=201)
    learner_email = Varchar(length=254)
    launch_token = Varchar(length=64, unique=True)
    self_enrolled = Boolean(default=False)
    completion = Varchar(length=20, default="not_started")
    success = Varchar(length=20, default="unknown")
    score_raw = Float(null=True, default=None)
    score_percent = Float(null=True, default=None)
    total_seconds = Float(default=0.0)
    attempts = Integer(default=0)
    first_access_at = Timestamptz(null=True, default=None)
    last_access_at = Timestamptz(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    # What the CRM was last told (domain.model.SyncedState), written with the outbox rows that tell it.
    synced = JSONB(default={})
    # The engine's own "updated" stamp of the progress we hold: older progress never overwrites newer.
    engine_updated_at = Timestamptz(null=True, default=None)
    # The learner's company in the CRM when enrolled: company training summaries aggregate on it.
    company_key = Varchar(length=200, null=True, default=None, index=True)
    # The CRM user who enrolled the learner (HighLevel SSO), so notes can be attributed to them.
    enrolled_by = Varchar(length=100, null=True, default=None)
    # An admin's result override (domain.model.ResultOverride), NULL when the engine's result stands.
    result_override = JSONB(null=True, default=None)
    # The course version this learner plays (course_version.number).
    course_version = Integer(default=1)


class ScoStateRow(Table, tablename="sco_state"):
    id = UUID(primary_key=True)
    enrollment_id = ForeignKey(references=EnrollmentRow, on_delete=OnDelete.cascade, index=True)
    sco_id = Varchar(length=200)
    state = JSONB()
    updated_at = Timestamptz()


class SequencingStateRow(Table, tablename="sequencing_state"):
    """One enrollment's SCORM 2004 activity tree state; `version` guards against two tabs' races."""

    id = UUID(primary_key=True)
    enrollment_id = ForeignKey(references=EnrollmentRow, on_delete=OnDelete.cascade, unique=True)
    state = JSONB()
    version = Integer(default=0)
    updated_at = Timestamptz()


class OutboxRow(Table, tablename="outbox"):
    """Every CRM write to make, stored in the transaction that decided it; push_to_crm delivers them."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, index=True)
    enrollment_id = UUID(null=True, default=None, index=True)
    kind = Varchar(length=30)
    contact_id = Varchar(length=100)
    payload = JSONB()
    idempotency_key = Varchar(length=200, unique=True)
    status = Varchar(length=10, default="pending", index=True)  # pending | sent | failed
    attempts = Integer(default=0)
    last_error = Text(null=True, default=None)
    next_attempt_at = Timestamptz()
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)


class TrainingRecordRow(Table, tablename="training_record"):
    """Training Records in the built-in contact book (HighLevel keeps its own as custom objects)."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    contact_id = ForeignKey(references=ContactRow, on_delete=OnDelete.cascade, index=True)
    record_key = Varchar(length=100, unique=True)  # the enrollment id: one record per enrollment
    properties = JSONB()
    updated_at = Timestamptz()


class SyncRunRow(Table, tablename="sync_run"):
    """One Sync All of a course: its progress partial reads these counters."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    course_id = ForeignKey(references=CourseRow, on_delete=OnDelete.cascade, index=True)
    total = Integer(default=0)
    done = Integer(default=0)
    failed = Integer(default=0)
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)


class CompanySummaryRow(Table, tablename="company_summary"):
    """Company Training Summaries in the built-in contact book (one row per company name)."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    company_key = Varchar(length=200)
    properties = JSONB()
    updated_at = Timestamptz()


class EngineAccountRow(Table, tablename="engine_account"):
    """A workspace's SCORM Cloud account. Secrets are encrypted (integrations.crypto.SecretBox)."""

    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, primary_key=True)
    app_id = Varchar(length=200)
    secret_key_enc = Text()
    postback_user = Varchar(length=100)
    postback_password_enc = Text()
    connected_at = Timestamptz()
    # When SCORM Cloud's test postback last arrived with these credentials (NULL: not since connecting).
    postback_checked_at = Timestamptz(null=True, default=None)


class InboxRow(Table, tablename="inbox"):
    """Every webhook as received, stored before it is acknowledged; jobs process it from here."""

    id = UUID(primary_key=True)
    workspace_id = UUID(null=True, default=None)
    source = Varchar(length=30)
    content_type = Varchar(length=200)
    body = Text()
    received_at = Timestamptz()
    # The sender's own id for the delivery (HighLevel's webhookId): a replay finds it and is ignored.
    external_id = Varchar(length=200, null=True, default=None)
    processed_at = Timestamptz(null=True, default=None)
    outcome = Text(null=True, default=None)
    # Indexes (migration 2026-11-22T19:50): partial ones, so that each postback touches two: the unique
    # external_id only where there is one (HighLevel's), and the unprocessed rows by workspace and arrival,
    # which is all the drain and the sweeper read; a row leaves that index when it is processed.


class CrmThrottleRow(Table, tablename="crm_throttle"):
    """A sliding log per workspace: the send times (epoch seconds) of its last CRM requests, reserved
    ahead by whichever process will make them, so every worker shares one budget."""

    workspace_id = UUID(primary_key=True)
    slots = Array(base_column=DoublePrecision())


class RateLimitRow(Table, tablename="rate_limit"):
    """Fixed-window counters shared by every process (abuse protection on public forms)."""

    key = Varchar(length=200, primary_key=True)
    window_start = Timestamptz()
    hits = Integer(default=0)


class BrandingRow(Table, tablename="branding"):
    """A workspace's look on PDF reports and certificates; the logo is stored, never hot-linked."""

    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, primary_key=True)
    organization_name = Varchar(length=200)
    primary_color = Varchar(length=7, default="#2563EB")
    logo = Bytea(null=True, default=None)
    logo_content_type = Varchar(length=50, null=True, default=None)
    logo_url = Text(null=True, default=None)
    updated_at = Timestamptz()


class CrmConnectionRow(Table, tablename="crm_connection"):
    """A workspace's HighLevel installation: its location's OAuth tokens (encrypted) and their state.

    Tokens minted from an agency's Company token have no refresh token; they are minted again instead.
    """

    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, primary_key=True)
    location_id = Varchar(length=100, unique=True)
    company_id = Varchar(length=100, null=True, default=None, index=True)
    access_token_enc = Text(null=True, default=None)
    refresh_token_enc = Text(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)
    scope = Text(default="")
    installer_user_id = Varchar(length=100, null=True, default=None)
    status = Varchar(length=20, default="connected")  # connected | reconnect | uninstalled
    status_message = Text(null=True, default=None)
    # Ids HighLevel gave the provisioned custom objects and association (schema keys, association id).
    provisioned = JSONB(default={})
    installed_at = Timestamptz()
    updated_at = Timestamptz()


class CrmRecordRow(Table, tablename="crm_record"):
    """Which CRM record holds one of our keys (a training record per enrollment, a company summary per
    company), so an update goes to the same record instead of creating another."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    record_key = Varchar(length=200)
    record_id = Varchar(length=100)
    related = Boolean(default=False)  # its association with the contact exists
    updated_at = Timestamptz()


class CrmAgencyTokenRow(Table, tablename="crm_agency_token"):
    """An agency (Company) installation's tokens, used to mint location tokens for its sub-accounts."""

    company_id = Varchar(length=100, primary_key=True)
    access_token_enc = Text()
    refresh_token_enc = Text()
    expires_at = Timestamptz()
    scope = Text(default="")
    status = Varchar(length=20, default="connected")
    updated_at = Timestamptz()


class CertificateRow(Table, tablename="certificate"):
    """A completion certificate: a public, unguessable id and a snapshot of what it certifies."""

    id = Varchar(length=40, primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, index=True)
    # Kept when the enrollment is removed: a certificate once issued stays verifiable.
    enrollment_id = UUID(unique=True)
    snapshot = JSONB()
    issued_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    # Added by migration 2026-12-07T23:10 (issue 23): from the course's validity at issue; NULL never.
    expires_at = Timestamptz(null=True, default=None)


class TriggerSubscriptionRow(Table, tablename="trigger_subscription"):
    """A HighLevel workflow's subscription to one of our triggers (migration 2026-12-07T23:05)."""

    id = Varchar(length=200, primary_key=True)  # HighLevel's triggerData.id
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    location_id = Varchar(length=100)
    company_id = Varchar(length=100, null=True, default=None)
    workflow_id = Varchar(length=100, null=True, default=None)
    trigger_key = Varchar(length=100)
    version = Varchar(length=20, null=True, default=None)
    filters = JSONB()
    target_url = Text()
    active = Boolean(default=True)
    inactive_reason = Text(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class WebhookEndpointRow(Table, tablename="webhook_endpoint"):
    """Settings → Webhooks: an HTTPS endpoint, the events it receives, its signing secret (encrypted)."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, index=True)
    url = Text()
    events = JSONB()
    secret_enc = Text()
    active = Boolean(default=True)
    created_at = Timestamptz()


class WebhookDeliveryRow(Table, tablename="webhook_delivery"):
    """The webhook outbox and delivery log: one row per (endpoint, event), with the last response."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    endpoint_id = ForeignKey(references=WebhookEndpointRow, on_delete=OnDelete.cascade)
    event_type = Varchar(length=50)
    message_id = Varchar(length=100)
    payload = JSONB()
    idempotency_key = Varchar(length=300, unique=True)
    status = Varchar(length=10, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    response_status = Integer(null=True, default=None)
    response_body = Text(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)


class BulkRunRow(Table, tablename="bulk_run"):
    """A bulk enrollment into one course, from a CSV or a CRM tag (migration 2026-12-07T23:30)."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, index=True)
    course_id = ForeignKey(references=CourseRow, on_delete=OnDelete.cascade)
    source = Varchar(length=10)
    label = Varchar(length=200)
    status = Varchar(length=10)  # preview | running | done
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class BulkRowRow(Table, tablename="bulk_row"):
    """One learner of a bulk enrollment, with what became of it (primary key: run_id, row_no)."""

    run_id = ForeignKey(references=BulkRunRow, on_delete=OnDelete.cascade)
    row_no = Integer()
    first_name = Text()
    last_name = Text()
    email = Text()
    status = Varchar(length=10)
    reason = Text(null=True, default=None)
    contact_id = Varchar(length=100, null=True, default=None)


class ResultOverrideAuditRow(Table, tablename="result_override_audit"):
    """Every override set or cleared: who, when, why, the result before and after. Kept when the
    enrollment is removed, like certificates: an audit log that forgets is not one."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    enrollment_id = UUID(index=True)
    action = Varchar(length=20)
    actor = Varchar(length=200)
    reason = Text()
    before = JSONB()
    after = JSONB()
    at = Timestamptz()


class CourseVersionRow(Table, tablename="course_version"):
    """One package of a course: version 1 is the first upload, each "Upload new version" adds one."""

    id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    course_id = ForeignKey(references=CourseRow, on_delete=OnDelete.cascade, index=True)
    number = Integer()
    package_key = Varchar(length=100)
    package_bytes = BigInt()
    file_name = Varchar(length=255)
    sha256 = Varchar(length=64, null=True, default=None)
    standard = Varchar(length=20)
    edition = Varchar(length=10, null=True, default=None)
    scos = JSONB(default=[])
    mastery_score = Float(null=True, default=None)
    warnings = JSONB(default=[])
    status = Varchar(length=20)
    status_message = Text(null=True, default=None)
    policy = Varchar(length=30, default="never")
    import_handle = Varchar(length=200, null=True, default=None)
    import_attempts = Integer(default=0)
    created_at = Timestamptz()
    activated_at = Timestamptz(null=True, default=None)


TABLES: tuple[type[Table], ...] = (
    WorkspaceRow,
    LoginTokenRow,
    CourseRow,
    ContactRow,
    ContactNoteRow,
    EnrollmentRow,
    ScoStateRow,
    RateLimitRow,
    OutboxRow,
    TrainingRecordRow,
    CrmThrottleRow,
    SyncRunRow,
    CompanySummaryRow,
    EngineAccountRow,
    InboxRow,
    BrandingRow,
    CrmConnectionRow,
    CrmRecordRow,
    CrmAgencyTokenRow,
    CertificateRow,
    SequencingStateRow,
    TriggerSubscriptionRow,
    WebhookEndpointRow,
    WebhookDeliveryRow,
    BulkRunRow,
    BulkRowRow,
    ResultOverrideAuditRow,
    CourseVersionRow,
)


class BillingAccountRow(Table, tablename="billing_account"):
    """A workspace's plan as HighLevel (or the operator) last set it (domain.billing.plans)."""

    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade, primary_key=True)
    status = Varchar(length=20)  # trial | live | uninstalled
    plan_id = Varchar(length=200, null=True, default=None)
    plan_name = Varchar(length=200, null=True, default=None)
    registration_limit = Integer(null=True, default=None)
    free_per_cycle = Integer(default=0)
    meter_id = Varchar(length=200, null=True, default=None)
    price_usd = Varchar(length=20, null=True, default=None)  # a decimal string, never a float
    on_trial = Boolean(default=False)
    source = Varchar(length=20)
    note = Text(null=True, default=None)
    reconcile_note = Text(null=True, default=None)
    reconciled_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()


class UsageChargeRow(Table, tablename="usage_charge"):
    """One registration counted against a live plan, and the outbox item of its charge when billable.

    No foreign key to the enrollment: a deleted enrollment still counted this month, and its charge record
    stays for support and reconciliation."""

    enrollment_id = UUID(primary_key=True)
    workspace_id = ForeignKey(references=WorkspaceRow, on_delete=OnDelete.cascade)
    cycle = Varchar(length=7)
    event_id = Varchar(length=100, unique=True)
    status = Varchar(length=20)  # free | pending | charged | refused | failed | cancelled
    description = Text()
    meter_id = Varchar(length=200, null=True, default=None)
    price_usd = Varchar(length=20, null=True, default=None)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    last_error = Text(null=True, default=None)
    charge_id = Varchar(length=200, null=True, default=None)
    charged_at = Timestamptz(null=True, default=None)
    reconcile_flag = Text(null=True, default=None)
    created_at = Timestamptz()


# --- Learners (issue 23): created by migration 2026-12-07T23:10 with raw DDL; read by raw queries in
# integrations/db/learners.py and integrations/db/mail.py. Declared so they are bound to the engine.


class MailOutboxRow(Table, tablename="mail_outbox"):
    """Every email to send, stored in the transaction that decided it; deliver_mail sends them."""

    id = UUID(primary_key=True)
    workspace_id = UUID()
    idempotency_key = Varchar(length=200, unique=True)
    kind = Varchar(length=40)
    to_address = Varchar(length=254)
    sender_name = Varchar(length=200, null=True, default=None)
    contact_id = Varchar(length=100, null=True, default=None)
    subject = Text()
    text_body = Text()
    html_body = Text()
    status = Varchar(length=10, default="pending")  # pending | sent | failed
    attempts = Integer(default=0)
    last_error = Text(null=True, default=None)
    transport = Varchar(length=20, null=True, default=None)
    next_attempt_at = Timestamptz()
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)


class LearnerLinkRow(Table, tablename="learner_link"):
    token_hash = Varchar(length=64, primary_key=True)
    workspace_id = UUID()
    email = Varchar(length=254)
    next_path = Varchar(length=300, null=True, default=None)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class LearnerSessionRow(Table, tablename="learner_session"):
    token_hash = Varchar(length=64, primary_key=True)
    workspace_id = UUID()
    email = Varchar(length=254)
    expires_at = Timestamptz()


class LearnerEventRow(Table, tablename="learner_event"):
    id = UUID(primary_key=True)
    workspace_id = UUID()
    kind = Varchar(length=40)
    dedupe_key = Varchar(length=200, unique=True)
    enrollment_id = UUID(null=True, default=None)
    payload = JSONB()
    occurred_at = Timestamptz()
    published_at = Timestamptz(null=True, default=None)


class LearnerSettingsRow(Table, tablename="learner_settings"):
    workspace_id = UUID(primary_key=True)
    reminder_offsets = Array(base_column=Integer())
    recert_notice_days = Integer(default=30)


class EnrollmentAttemptRow(Table, tablename="enrollment_attempt"):
    id = UUID(primary_key=True)
    workspace_id = UUID()
    enrollment_id = UUID()
    snapshot = JSONB()
    certificate_id = Varchar(length=40, null=True, default=None)
    archived_at = Timestamptz()


TABLES = (
    *TABLES,
    MailOutboxRow,
    LearnerLinkRow,
    LearnerSessionRow,
    LearnerEventRow,
    LearnerSettingsRow,
    EnrollmentAttemptRow,
)
