-- 0009 maintenance mode (SQLite): down.
DROP TABLE scheduler_control;
