-- 0004 community platform (SQLite): down.
ALTER TABLE communities DROP COLUMN platform;
