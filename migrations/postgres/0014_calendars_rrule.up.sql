-- 0014 calendars and RRULE schedules (PostgreSQL): calendars name days on which a schedule does not
-- run (weekends, listed dates and ranges, public holidays); a schedule may use one
-- (calendar_id, with the calendar as it is now in calendar_spec) and may be an RFC 5545 rule (rrule).
CREATE TABLE calendars (
    id BIGSERIAL PRIMARY KEY,
    calendar_id CHAR(36) NOT NULL UNIQUE,
    name VARCHAR(100) NOT NULL,
    community_id VARCHAR(100),
    timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    weekdays_only BOOLEAN NOT NULL DEFAULT FALSE,
    excluded_dates JSONB NOT NULL DEFAULT '[]',
    holidays JSONB,
    created_by VARCHAR(200) NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_calendars_community_name ON calendars (COALESCE(community_id, ''), name);
ALTER TABLE workflow_schedules DROP CONSTRAINT workflow_schedules_schedule_type_check;
ALTER TABLE workflow_schedules ADD CONSTRAINT workflow_schedules_schedule_type_check
    CHECK (schedule_type IN ('cron', 'interval', 'one_time', 'rrule'));
ALTER TABLE workflow_schedules ADD COLUMN rrule VARCHAR(300);
ALTER TABLE workflow_schedules ADD COLUMN calendar_id CHAR(36);
ALTER TABLE workflow_schedules ADD COLUMN calendar_spec JSONB;
-- The schedules of a calendar, to refuse its deletion and to recompute them when it changes.
CREATE INDEX ix_schedules_calendar ON workflow_schedules (calendar_id) WHERE calendar_id IS NOT NULL;
