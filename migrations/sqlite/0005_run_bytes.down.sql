-- 0005 smaller runs (SQLite): down.
DROP INDEX ux_runs_schedule;
CREATE INDEX ix_executions_workflow ON workflow_executions (workflow_id, created_at);
CREATE INDEX ix_runs_claimed_by ON workflow_schedule_runs (claimed_by);
CREATE INDEX ix_runs_schedule_fired ON workflow_schedule_runs (schedule_id, fired_at);
CREATE UNIQUE INDEX ux_runs_occurrence ON workflow_schedule_runs (schedule_id, scheduled_for) WHERE "trigger" = 'schedule';
ALTER TABLE workflow_schedule_runs DROP COLUMN step_results;
