-- 0002 communities (SQLite): down.
DROP TABLE communities;
