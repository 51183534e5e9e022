-- 0010 backfill (SQLite): down (backfill runs of one occurrence, if any, must go first).
DROP INDEX ux_runs_schedule;
CREATE UNIQUE INDEX ux_runs_schedule ON workflow_schedule_runs
    (schedule_id, scheduled_for, (CASE WHEN "trigger" = 'schedule' THEN '' ELSE run_id END));
