from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T23:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Billing: each workspace's plan, and usage charges (the charge outbox)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_tables() -> None:
        run_ddl = engine_finder().run_ddl
        await run_ddl(
            "CREATE TABLE IF NOT EXISTS billing_account ("
            "workspace_id uuid PRIMARY KEY REFERENCES workspace (id) ON DELETE CASCADE, "
            "status varchar(20) NOT NULL, plan_id varchar(200), plan_name varchar(200), "
            "registration_limit integer, free_per_cycle integer NOT NULL DEFAULT 0, meter_id varchar(200), "
            "price_usd varchar(20), on_trial boolean NOT NULL DEFAULT false, source varchar(20) NOT NULL, "
            "note text, reconcile_note text, reconciled_at timestamptz, updated_at timestamptz NOT NULL)"
        )
        await run_ddl(
            "CREATE TABLE IF NOT EXISTS usage_charge ("
            "enrollment_id uuid PRIMARY KEY, "
            "workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE, "
            "cycle varchar(7) NOT NULL, event_id varchar(100) NOT NULL UNIQUE, status varchar(20) NOT NULL, "
            "description text NOT NULL, meter_id varchar(200), price_usd varchar(20), "
            "attempts integer NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL, last_error text, "
            "charge_id varchar(200), charged_at timestamptz, reconcile_flag text, "
            "created_at timestamptz NOT NULL)"
        )
        # The month's count under the workspace lock (every enrollment of a live plan reads it), and the
        # charger's claim of due charges.
        await run_ddl("CREATE INDEX IF NOT EXISTS usage_charge_cycle ON usage_charge (workspace_id, cycle)")
        await run_ddl(
            "CREATE INDEX IF NOT EXISTS usage_charge_due ON usage_charge (next_attempt_at) "
            "WHERE status = 'pending'"
        )

    manager.add_raw(create_tables)
    return manager
