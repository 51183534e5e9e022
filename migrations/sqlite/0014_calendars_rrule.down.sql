-- 0014 calendars and RRULE schedules (SQLite): down.
DROP INDEX ix_schedules_calendar;
ALTER TABLE workflow_schedules DROP COLUMN calendar_spec;
ALTER TABLE workflow_schedules DROP COLUMN calendar_id;
ALTER TABLE workflow_schedules DROP COLUMN rrule;
DROP INDEX ux_calendars_community_name;
DROP TABLE calendars;
