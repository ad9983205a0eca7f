from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T23:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Learners: mail outbox, portal sign-in links and sessions, due dates, reminders, recertification"

# Raw DDL: the new columns are read and written by raw queries in integrations/db/learners.py and
# mail.py, and Piccolo's auto-migrations cannot express the partial and composite indexes below.
STATEMENTS = (
    # An optional due date per enrollment, and when it was set: reminders whose moment had already
    # passed when the date was set are not sent (a due date set 3 days ahead gets no "7 days before").
    "ALTER TABLE enrollment ADD COLUMN IF NOT EXISTS due_at timestamptz NULL",
    "ALTER TABLE enrollment ADD COLUMN IF NOT EXISTS due_set_at timestamptz NULL",
    "CREATE INDEX IF NOT EXISTS enrollment_due ON enrollment (due_at) "
    "WHERE due_at IS NOT NULL AND completion <> 'completed'",
    "CREATE INDEX IF NOT EXISTS enrollment_workspace_email ON enrollment (workspace_id, lower(learner_email))",
    # Certificates of a course expire this many days after issue (NULL: never).
    "ALTER TABLE course ADD COLUMN IF NOT EXISTS validity_days integer NULL",
    # Stamped from the course's validity at issue; later changes to the validity do not move it.
    "ALTER TABLE certificate ADD COLUMN IF NOT EXISTS expires_at timestamptz NULL",
    "CREATE INDEX IF NOT EXISTS certificate_expiry ON certificate (expires_at) "
    "WHERE expires_at IS NOT NULL AND revoked_at IS NULL",
    # Every email to send, queued in the transaction that decided it; deliver_mail sends them.
    "CREATE TABLE IF NOT EXISTS mail_outbox ("
    " id uuid PRIMARY KEY,"
    " workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,"
    " idempotency_key varchar(200) NOT NULL UNIQUE,"
    " kind varchar(40) NOT NULL,"
    " to_address varchar(254) NOT NULL,"
    " sender_name varchar(200) NULL,"
    " contact_id varchar(100) NULL,"
    " subject text NOT NULL,"
    " text_body text NOT NULL,"
    " html_body text NOT NULL,"
    " status varchar(10) NOT NULL DEFAULT 'pending',"
    " attempts integer NOT NULL DEFAULT 0,"
    " last_error text NULL,"
    " transport varchar(20) NULL,"
    " next_attempt_at timestamptz NOT NULL,"
    " created_at timestamptz NOT NULL,"
    " sent_at timestamptz NULL)",
    "CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS mail_outbox_workspace ON mail_outbox (workspace_id, created_at)",
    # One-time sign-in links of the learner portal: only the token's hash is stored.
    "CREATE TABLE IF NOT EXISTS learner_link ("
    " token_hash varchar(64) PRIMARY KEY,"
    " workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,"
    " email varchar(254) NOT NULL,"
    " next_path varchar(300) NULL,"
    " created_at timestamptz NOT NULL,"
    " expires_at timestamptz NOT NULL,"
    " used_at timestamptz NULL)",
    "CREATE INDEX IF NOT EXISTS learner_link_expiry ON learner_link (expires_at)",
    # A signed-in learner (the cookie holds the token; only its hash is stored).
    "CREATE TABLE IF NOT EXISTS learner_session ("
    " token_hash varchar(64) PRIMARY KEY,"
    " workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,"
    " email varchar(254) NOT NULL,"
    " expires_at timestamptz NOT NULL)",
    # Domain events (course due soon / overdue, certificate expiring / expired). The unique key is what
    # makes a reminder happen once however many workers run the pass; published_at is for the workflow
    # triggers and webhooks to mark what they have delivered.
    "CREATE TABLE IF NOT EXISTS learner_event ("
    " id uuid PRIMARY KEY,"
    " workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,"
    " kind varchar(40) NOT NULL,"
    " dedupe_key varchar(200) NOT NULL UNIQUE,"
    " enrollment_id uuid NULL,"
    " payload jsonb NOT NULL,"
    " occurred_at timestamptz NOT NULL,"
    " published_at timestamptz NULL)",
    "CREATE INDEX IF NOT EXISTS learner_event_unpublished ON learner_event (occurred_at) "
    "WHERE published_at IS NULL",
    # Per workspace: reminder offsets in days relative to the due date (-7: a week before, 1: a day after)
    # and how many days before a certificate expires the learner is re-enrolled.
    "CREATE TABLE IF NOT EXISTS learner_settings ("
    " workspace_id uuid PRIMARY KEY REFERENCES workspace (id) ON DELETE CASCADE,"
    " reminder_offsets integer[] NOT NULL DEFAULT '{-7,1}',"
    " recert_notice_days integer NOT NULL DEFAULT 30)",
    # Earlier attempts of a re-enrolled enrollment (recertification keeps the history).
    "CREATE TABLE IF NOT EXISTS enrollment_attempt ("
    " id uuid PRIMARY KEY,"
    " workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,"
    " enrollment_id uuid NOT NULL REFERENCES enrollment (id) ON DELETE CASCADE,"
    " snapshot jsonb NOT NULL,"
    " certificate_id varchar(40) NULL,"
    " archived_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS enrollment_attempt_enrollment ON enrollment_attempt (enrollment_id)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create() -> None:
        db = engine_finder()
        for statement in STATEMENTS:
            await db.run_ddl(statement)

    manager.add_raw(create)
    return manager
