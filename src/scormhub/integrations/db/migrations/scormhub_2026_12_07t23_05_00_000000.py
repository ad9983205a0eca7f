from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T23:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Automation: workflow trigger subscriptions, webhook endpoints and their delivery log"

STATEMENTS = (
    # One row per HighLevel trigger (triggerData.id): several workflows may subscribe to one key.
    """
    CREATE TABLE IF NOT EXISTS trigger_subscription (
        id varchar(200) PRIMARY KEY,
        workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,
        location_id varchar(100) NOT NULL,
        company_id varchar(100),
        workflow_id varchar(100),
        trigger_key varchar(100) NOT NULL,
        version varchar(20),
        filters jsonb NOT NULL DEFAULT '[]'::jsonb,
        target_url text NOT NULL,
        active boolean NOT NULL DEFAULT true,
        inactive_reason text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    # Firing looks up the active subscriptions of one key in one workspace.
    "CREATE INDEX IF NOT EXISTS trigger_subscription_firing "
    "ON trigger_subscription (workspace_id, trigger_key) WHERE active",
    """
    CREATE TABLE IF NOT EXISTS webhook_endpoint (
        id uuid PRIMARY KEY,
        workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,
        url text NOT NULL,
        events jsonb NOT NULL DEFAULT '[]'::jsonb,
        secret_enc text NOT NULL,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS webhook_endpoint_workspace ON webhook_endpoint (workspace_id)",
    # The webhook outbox and its log: inserted in the transaction of the event, delivered by a job.
    """
    CREATE TABLE IF NOT EXISTS webhook_delivery (
        id uuid PRIMARY KEY,
        workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,
        endpoint_id uuid NOT NULL REFERENCES webhook_endpoint (id) ON DELETE CASCADE,
        event_type varchar(50) NOT NULL,
        message_id varchar(100) NOT NULL,
        payload jsonb NOT NULL,
        idempotency_key varchar(300) NOT NULL UNIQUE,
        status varchar(10) NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        response_status integer,
        response_body text,
        last_error text,
        created_at timestamptz NOT NULL,
        sent_at timestamptz
    )
    """,
    "CREATE INDEX IF NOT EXISTS webhook_delivery_due "
    "ON webhook_delivery (workspace_id, next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS webhook_delivery_log ON webhook_delivery (workspace_id, created_at DESC)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_tables() -> None:
        for statement in STATEMENTS:
            await engine_finder().run_ddl(statement)

    manager.add_raw(create_tables)
    return manager
