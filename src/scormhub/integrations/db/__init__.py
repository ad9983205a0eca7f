"""PostgreSQL through Piccolo: tables, migrations, the unit of work."""
