"""Everything that talks to the database: engines, migrations, writes, queries, read-only SQL."""
