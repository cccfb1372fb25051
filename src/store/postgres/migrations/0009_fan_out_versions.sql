-- A version per (organization, event type) that changes with every write to one of its
-- configurations, so that a node may fan events out from configurations it keeps in memory:
-- its INSERT checks the version it read them at, in the same statement (docs/store.md,
-- "Fan-out from memory"). Versions come from a sequence, so a change that was rolled back never
-- gives a version that a committed one gets later. Running it again changes nothing.
CREATE SEQUENCE IF NOT EXISTS fan_out_version_numbers;

CREATE TABLE IF NOT EXISTS fan_out_versions (
  organization_id bigint NOT NULL,
  event_type_id integer NOT NULL,
  version bigint NOT NULL,
  PRIMARY KEY (organization_id, event_type_id)
);

CREATE OR REPLACE FUNCTION bump_fan_out_version(organization bigint, event_type integer)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO fan_out_versions (organization_id, event_type_id, version)
  VALUES (organization, event_type, nextval('fan_out_version_numbers'))
  ON CONFLICT (organization_id, event_type_id) DO UPDATE SET version = EXCLUDED.version
$$;

CREATE OR REPLACE FUNCTION webhook_configs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM bump_fan_out_version(OLD.organization_id, OLD.event_type_id);
  END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.organization_id <> OLD.organization_id
                             OR NEW.event_type_id <> OLD.event_type_id) THEN
    PERFORM bump_fan_out_version(NEW.organization_id, NEW.event_type_id);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS webhook_configs_fan_out_version ON webhook_configs;
CREATE TRIGGER webhook_configs_fan_out_version AFTER INSERT OR UPDATE OR DELETE
  ON webhook_configs FOR EACH ROW EXECUTE FUNCTION webhook_configs_changed();
