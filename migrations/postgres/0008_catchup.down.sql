-- 0008 catch-up policy (PostgreSQL): down.
ALTER TABLE workflow_schedules DROP COLUMN catchup_max;
ALTER TABLE workflow_schedules DROP COLUMN catchup_policy;
