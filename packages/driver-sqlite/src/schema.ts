/** Schema version stored in `PRAGMA user_version`; bump with a migration when it changes. */
export const SCHEMA_VERSION = 1;

/**
 * One row per cached image and node. Times are integer milliseconds so LRU order holds for
 * accesses within one second. `totals` is kept by triggers so size checks are O(1).
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  node_id       TEXT    NOT NULL,
  image_id      TEXT    NOT NULL,
  size          INTEGER NOT NULL CHECK (size >= 0),
  checksum      TEXT    NOT NULL,
  hits          INTEGER NOT NULL DEFAULT 0,
  last_accessed INTEGER NOT NULL,
  last_modified INTEGER NOT NULL,
  PRIMARY KEY (node_id, image_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS entries_lru ON entries (node_id, last_accessed, image_id);

CREATE TABLE IF NOT EXISTS totals (
  node_id    TEXT    PRIMARY KEY,
  count      INTEGER NOT NULL DEFAULT 0,
  total_size INTEGER NOT NULL DEFAULT 0,
  total_hits INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS entries_after_insert AFTER INSERT ON entries BEGIN
  INSERT INTO totals (node_id) VALUES (NEW.node_id) ON CONFLICT (node_id) DO NOTHING;
  UPDATE totals SET count = count + 1, total_size = total_size + NEW.size, total_hits = total_hits + NEW.hits
   WHERE node_id = NEW.node_id;
END;

CREATE TRIGGER IF NOT EXISTS entries_after_delete AFTER DELETE ON entries BEGIN
  UPDATE totals SET count = count - 1, total_size = total_size - OLD.size, total_hits = total_hits - OLD.hits
   WHERE node_id = OLD.node_id;
END;

CREATE TRIGGER IF NOT EXISTS entries_after_update AFTER UPDATE OF size, hits ON entries BEGIN
  UPDATE totals SET total_size = total_size - OLD.size + NEW.size, total_hits = total_hits - OLD.hits + NEW.hits
   WHERE node_id = NEW.node_id;
END;
`;
