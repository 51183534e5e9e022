-- 0008 catch-up policy (SQLite): what happens to occurrences missed inside the grace period
-- ('latest': one fire for them all; 'all': each fires, oldest first, at most catchup_max).
ALTER TABLE workflow_schedules ADD COLUMN catchup_policy VARCHAR(16) NOT NULL DEFAULT 'latest';
ALTER TABLE workflow_schedules ADD COLUMN catchup_max INTEGER NOT NULL DEFAULT 10;
