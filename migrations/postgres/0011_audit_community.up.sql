-- 0008 audit by community (PostgreSQL): GET /api/v1/audit with a community key reads that community's
-- rows newest first; this index serves the filter and the order (ix_audit_entity serves the
-- schedule_id and workflow_id filters, ix_audit_at a global key's unfiltered page).
CREATE INDEX ix_audit_community ON audit_log (community_id, at, id);
