-- Retention finds the oldest events through the events' rowids instead of an index of their own
-- (docs/store.md, "Retention by rowid"). The one writer stores events with the clock's time, so
-- their created_at rises with their rowid: the purge and the payload erasure look up the last
-- rowid created before the cutoff (a binary search over rowids) and read the rows up to it, in
-- rowid order, still testing created_at. events_by_created_at was written on every ingest for
-- these two statements alone.
DROP INDEX events_by_created_at;
