-- 0007 pause after failures (PostgreSQL): a schedule may pause itself after that many failed or
-- timed-out runs in a row; consecutive_failures counts them (a success resets it).
ALTER TABLE workflow_schedules ADD COLUMN pause_after_failures INTEGER;
ALTER TABLE workflow_schedules ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
