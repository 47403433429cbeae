-- What the owner calls a session ("Rename" on Manage Sessions, or the API), shown instead of the
-- device parsed from its user agent; NULL keeps the parsed one.
ALTER TABLE sessions ADD COLUMN custom_name TEXT;
-- Where the session logged in from, looked up once at login in the operator's GeoIP database
-- ("Berlin, Germany", "Germany", "Local network"); NULL without a database or without an answer.
ALTER TABLE sessions ADD COLUMN location TEXT;
