-- 0002 communities (PostgreSQL): down.
DROP TABLE communities;
