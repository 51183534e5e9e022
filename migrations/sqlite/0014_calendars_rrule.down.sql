-- 0014 calendars and RRULE schedules (SQLite): down. rrule schedules cannot stay (their rule goes
-- with its column): they are removed, and the CHECK constraint gets its old text back (see the up
-- file), before the DDL that bumps the schema version.
DELETE FROM workflow_schedules WHERE schedule_type = 'rrule';
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''interval'', ''one_time'', ''rrule'')', '''interval'', ''one_time'')')
    WHERE type = 'table' AND name = 'workflow_schedules';
PRAGMA writable_schema = RESET;
DROP INDEX ix_schedules_calendar;
ALTER TABLE workflow_schedules DROP COLUMN calendar_spec;
ALTER TABLE workflow_schedules DROP COLUMN calendar_id;
ALTER TABLE workflow_schedules DROP COLUMN rrule;
DROP INDEX ux_calendars_community_name;
DROP TABLE calendars;
