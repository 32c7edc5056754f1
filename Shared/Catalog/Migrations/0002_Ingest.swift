/// What ingest needs beyond the initial schema: the at-rest bookkeeping of pending acquisitions,
/// object versions (a changed file becomes a new version; old checksums stay), exact bytes of
/// non-UTF-8 physical paths, and a one-call lookup-or-create of the ISA hierarchy.
enum IngestSchema {
    static let migration = Migration(version: 2, name: "ingest", statements: statements)

    private static let statements = [
        // The registrar's work queue is the table itself: due rows are claimed with a lease, so a
        // crashed ingest leaves nothing stuck for longer than the lease.
        """
        ALTER TABLE acquisitions
            ADD COLUMN kind text CHECK (kind IN ('file', 'folder')),
            ADD COLUMN source text NOT NULL DEFAULT 'http' CHECK (source IN ('http', 'amqp')),
            ADD COLUMN fingerprint text,
            ADD COLUMN fingerprint_since timestamptz,
            ADD COLUMN next_check_at timestamptz NOT NULL DEFAULT now(),
            ADD COLUMN lease_token uuid,
            ADD COLUMN lease_until timestamptz,
            ADD COLUMN checks integer NOT NULL DEFAULT 0 CHECK (checks >= 0),
            ADD COLUMN file_count integer CHECK (file_count >= 0),
            ADD COLUMN total_bytes bigint CHECK (total_bytes >= 0),
            ADD COLUMN skipped_entries integer NOT NULL DEFAULT 0 CHECK (skipped_entries >= 0),
            ADD COLUMN registered_at timestamptz
        """,
        "CREATE INDEX acquisitions_due ON acquisitions (next_check_at) WHERE state = 'pending'",
        "ALTER TABLE objects ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1)",
        // Exact bytes of a physical path that is not UTF-8 (physical_path then shows them as \\xNN).
        """
        ALTER TABLE replicas
            ADD COLUMN physical_path_bytes bytea,
            ADD COLUMN mtime_ns bigint
        """,
        """
        CREATE TABLE object_versions (
            object_id uuid NOT NULL REFERENCES objects ON DELETE CASCADE,
            version integer NOT NULL CHECK (version >= 1),
            size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
            checksum text NOT NULL CHECK (checksum ~ '^sha2:[A-Za-z0-9+/]{43}=$'),
            format text NOT NULL,
            mtime_ns bigint,
            acquisition_id uuid REFERENCES acquisitions,
            registered_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (object_id, version)
        )
        """,
        // Lookup-or-create of investigation, study and assay in one round trip. Concurrent callers
        // meet on the unique constraints; ON CONFLICT makes the loser read the winner's row.
        """
        CREATE FUNCTION fairway_assay(investigation_name text, study_name text, assay_name text, member text)
        RETURNS uuid LANGUAGE plpgsql AS $$
        DECLARE
            investigation uuid;
            study uuid;
            assay uuid;
        BEGIN
            INSERT INTO investigations (name) VALUES (investigation_name) ON CONFLICT (name) DO NOTHING;
            SELECT id INTO investigation FROM investigations WHERE name = investigation_name;
            IF member IS NOT NULL THEN
                INSERT INTO investigation_members (investigation_id, username, role)
                VALUES (investigation, member, 'member') ON CONFLICT DO NOTHING;
            END IF;
            INSERT INTO studies (investigation_id, name) VALUES (investigation, study_name) ON CONFLICT DO NOTHING;
            SELECT id INTO study FROM studies WHERE investigation_id = investigation AND name = study_name;
            INSERT INTO assays (study_id, name) VALUES (study, assay_name) ON CONFLICT DO NOTHING;
            SELECT id INTO assay FROM assays WHERE study_id = study AND name = assay_name;
            RETURN assay;
        END
        $$
        """,
        // Wakes registrars (in any ingest replica) when an acquisition becomes due.
        """
        CREATE FUNCTION acquisitions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.state = 'pending' THEN PERFORM pg_notify('fairway_acquisitions', ''); END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER acquisitions_notify AFTER INSERT OR UPDATE OF state, next_check_at ON acquisitions
        FOR EACH ROW EXECUTE FUNCTION acquisitions_notify()
        """,
        "GRANT SELECT, INSERT ON object_versions TO fairway_ingest",
        "GRANT SELECT ON object_versions TO fairway_converter, fairway_metadata, fairway_qc, fairway_retention, fairway_doi",
        "GRANT SELECT ON acquisitions TO fairway_converter, fairway_metadata, fairway_qc, fairway_doi",
    ]
}
