-- 0008 audit by community (SQLite): down.
DROP INDEX ix_audit_community;
