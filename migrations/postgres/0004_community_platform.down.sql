-- 0004 community platform (PostgreSQL): down.
ALTER TABLE communities DROP COLUMN platform;
