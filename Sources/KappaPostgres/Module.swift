// PostgreSQL.
