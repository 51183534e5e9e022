-- 0013 alerts (PostgreSQL): down.
DROP TABLE schedule_alerts;
ALTER TABLE workflow_schedules DROP COLUMN alert_state;
ALTER TABLE workflow_schedules DROP COLUMN alerts;
