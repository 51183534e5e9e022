-- 0009 maintenance mode (PostgreSQL): one row; while paused, no replica claims anything.
CREATE TABLE scheduler_control (
    id INTEGER PRIMARY KEY,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    reason VARCHAR(500),
    since TIMESTAMP,
    paused_by VARCHAR(200)
);
INSERT INTO scheduler_control (id, paused) VALUES (1, FALSE);
