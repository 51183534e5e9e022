-- 0010 backfill (PostgreSQL): a backfilled occurrence is unique per (schedule, time) like a scheduled
-- one, so backfilling a range again runs nothing twice; any other run is its own key.
DROP INDEX ux_runs_schedule;
CREATE UNIQUE INDEX ux_runs_schedule ON workflow_schedule_runs
    (schedule_id, scheduled_for, (CASE WHEN "trigger" IN ('schedule', 'backfill') THEN "trigger" ELSE run_id END));
