-- The stored catalog's version (docs/event-types.md): one row, bumped in the transaction of
-- every change to event_types or event_type_versions, so that a node learns whether the catalog
-- moved by reading this row instead of every stored type.
CREATE TABLE catalog_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);
