-- 0014 calendars and RRULE schedules (PostgreSQL): down. rrule schedules cannot stay (their rule
-- goes with its column): they are removed first.
DELETE FROM workflow_schedules WHERE schedule_type = 'rrule';
ALTER TABLE workflow_schedules DROP CONSTRAINT workflow_schedules_schedule_type_check;
ALTER TABLE workflow_schedules ADD CONSTRAINT workflow_schedules_schedule_type_check
    CHECK (schedule_type IN ('cron', 'interval', 'one_time'));
DROP INDEX ix_schedules_calendar;
ALTER TABLE workflow_schedules DROP COLUMN calendar_spec;
ALTER TABLE workflow_schedules DROP COLUMN calendar_id;
ALTER TABLE workflow_schedules DROP COLUMN rrule;
DROP INDEX ux_calendars_community_name;
DROP TABLE calendars;
