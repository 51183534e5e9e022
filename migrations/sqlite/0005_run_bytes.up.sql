-- 0005 smaller runs (SQLite): a scheduled run's first attempt is recorded on its run row (step_results)
-- instead of a workflow_executions row of its own; one unique index serves both exactly-once
-- claims and history by schedule; indexes no query uses are dropped.
ALTER TABLE workflow_schedule_runs ADD COLUMN step_results TEXT;
DROP INDEX ux_runs_occurrence;
DROP INDEX ix_runs_schedule_fired;
DROP INDEX ix_runs_claimed_by;
DROP INDEX ix_executions_workflow;
-- Scheduled occurrences are unique per (schedule, time); any other run is its own key ('' never
-- equals a run id), so the index also serves WHERE schedule_id = ? for every run.
CREATE UNIQUE INDEX ux_runs_schedule ON workflow_schedule_runs
    (schedule_id, scheduled_for, (CASE WHEN "trigger" = 'schedule' THEN '' ELSE run_id END));
