-- 0008 audit by community (PostgreSQL): down.
DROP INDEX ix_audit_community;
