"""PostgreSQL fixtures (filled in by the SQL store work)."""
