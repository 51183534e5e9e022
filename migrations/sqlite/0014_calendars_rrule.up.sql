-- 0014 calendars and RRULE schedules (SQLite): calendars name days on which a schedule does not
-- run (weekends, listed dates and ranges, public holidays); a schedule may use one
-- (calendar_id, with the calendar as it is now in calendar_spec) and may be an RFC 5545 rule (rrule).
-- schedule_type accepts 'rrule'. SQLite cannot alter a CHECK constraint; the documented way to
-- loosen one without rebuilding the table is to edit its text in the schema (every row on disk
-- stays valid). RESET makes this connection read the schema again; the DDL below bumps the schema
-- version, so every other connection does too.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''interval'', ''one_time'')', '''interval'', ''one_time'', ''rrule'')')
    WHERE type = 'table' AND name = 'workflow_schedules';
PRAGMA writable_schema = RESET;
CREATE TABLE calendars (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    calendar_id CHAR(36) NOT NULL UNIQUE,
    name VARCHAR(100) NOT NULL,
    community_id VARCHAR(100),
    timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    weekdays_only BOOLEAN NOT NULL DEFAULT 0,
    excluded_dates TEXT NOT NULL DEFAULT '[]',
    holidays TEXT,
    created_by VARCHAR(200) NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_calendars_community_name ON calendars (COALESCE(community_id, ''), name);
ALTER TABLE workflow_schedules ADD COLUMN rrule VARCHAR(300);
ALTER TABLE workflow_schedules ADD COLUMN calendar_id CHAR(36);
ALTER TABLE workflow_schedules ADD COLUMN calendar_spec TEXT;
-- The schedules of a calendar, to refuse its deletion and to recompute them when it changes.
CREATE INDEX ix_schedules_calendar ON workflow_schedules (calendar_id) WHERE calendar_id IS NOT NULL;
