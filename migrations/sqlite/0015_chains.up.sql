-- 0015 schedule chains (SQLite): an `after` schedule runs when a run of its upstream ends. Its
-- upstream and outcome are `after` (JSON); the upstream's schedule_id is also `upstream_id`,
-- indexed, to find what a run's end starts. A chain run (trigger 'after') keeps the run that
-- started it in upstream_run_id; one chain run per (schedule, upstream run), so two replicas can
-- never both start it. schedule_type and the run's trigger accept 'after' (the CHECK texts are
-- edited in the schema, as in 0014; the DDL below bumps the schema version).
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''one_time'', ''rrule'')', '''one_time'', ''rrule'', ''after'')')
    WHERE type = 'table' AND name = 'workflow_schedules';
UPDATE sqlite_master SET sql = replace(sql, '''manual'', ''backfill'')', '''manual'', ''backfill'', ''after'')')
    WHERE type = 'table' AND name = 'workflow_schedule_runs';
PRAGMA writable_schema = RESET;
ALTER TABLE workflow_schedules ADD COLUMN "after" TEXT;
ALTER TABLE workflow_schedules ADD COLUMN upstream_id CHAR(36);
CREATE INDEX ix_schedules_upstream ON workflow_schedules (upstream_id) WHERE upstream_id IS NOT NULL;
ALTER TABLE workflow_schedule_runs ADD COLUMN upstream_run_id CHAR(36);
CREATE UNIQUE INDEX ux_runs_upstream ON workflow_schedule_runs (schedule_id, upstream_run_id)
    WHERE upstream_run_id IS NOT NULL;
