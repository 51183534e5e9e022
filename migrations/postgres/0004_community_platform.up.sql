-- 0004 community platform (PostgreSQL): the chat platform a community is on (twitch, discord, slack, kick).
ALTER TABLE communities ADD COLUMN platform VARCHAR(16);
