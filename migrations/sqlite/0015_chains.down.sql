-- 0015 schedule chains (SQLite): down. after schedules and chain runs cannot stay (their upstream
-- goes with its column): they are removed, and the CHECK texts get their old form back (see the
-- up file), before the DDL that bumps the schema version.
DELETE FROM workflow_schedule_runs WHERE "trigger" = 'after';
DELETE FROM workflow_schedules WHERE schedule_type = 'after';
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''one_time'', ''rrule'', ''after'')', '''one_time'', ''rrule'')')
    WHERE type = 'table' AND name = 'workflow_schedules';
UPDATE sqlite_master SET sql = replace(sql, '''manual'', ''backfill'', ''after'')', '''manual'', ''backfill'')')
    WHERE type = 'table' AND name = 'workflow_schedule_runs';
PRAGMA writable_schema = RESET;
DROP INDEX ux_runs_upstream;
ALTER TABLE workflow_schedule_runs DROP COLUMN upstream_run_id;
DROP INDEX ix_schedules_upstream;
ALTER TABLE workflow_schedules DROP COLUMN upstream_id;
ALTER TABLE workflow_schedules DROP COLUMN "after";
