-- 0009 maintenance mode (PostgreSQL): down.
DROP TABLE scheduler_control;
