-- The first user ever becomes ADMIN: the registration that inserts this table's single row,
-- inside its own transaction. On PostgreSQL a concurrent second insert waits on the primary
-- key and then finds the row taken, so two simultaneous first registrations cannot both win.
CREATE TABLE first_user_claim (id INTEGER PRIMARY KEY NOT NULL);
INSERT INTO first_user_claim (id) SELECT 1 WHERE EXISTS (SELECT 1 FROM users);
