/// The catalog of ARCHITECTURE.md: resources, the ISA hierarchy, objects and replicas, annotations,
/// watcher tokens, outbox/inbox and the audit log, with one role per service granted only what it uses.
enum InitialSchema {
    static let migration = Migration(version: 1, name: "initial schema", statements: tables + indexes + outboxNotification + ServiceRoles.statements)

    // Names are short identifiers used in paths, URLs and CLI arguments.
    private static let nameCheck = "CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')"
    private static let checksumCheck = "CHECK (checksum ~ '^sha2:[A-Za-z0-9+/]{43}=$')"

    private static let tables = [
        """
        CREATE TABLE resources (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name text NOT NULL UNIQUE \(nameCheck),
            role text NOT NULL CHECK (role IN ('landing', 'vault', 'derived', 'cold')),
            root_path text NOT NULL CHECK (root_path ~ '^/' AND root_path !~ '(^|/)\\.\\.(/|$)'),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE investigations (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name text NOT NULL UNIQUE \(nameCheck),
            description text,
            quota_bytes bigint CHECK (quota_bytes >= 0),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE investigation_members (
            investigation_id uuid NOT NULL REFERENCES investigations ON DELETE CASCADE,
            username text NOT NULL CHECK (username <> ''),
            role text NOT NULL CHECK (role IN ('owner', 'member', 'viewer')),
            PRIMARY KEY (investigation_id, username)
        )
        """,
        """
        CREATE TABLE studies (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            investigation_id uuid NOT NULL REFERENCES investigations,
            name text NOT NULL \(nameCheck),
            description text,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (investigation_id, name)
        )
        """,
        """
        CREATE TABLE assays (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            study_id uuid NOT NULL REFERENCES studies,
            name text NOT NULL \(nameCheck),
            description text,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (study_id, name)
        )
        """,
        // One acquisition per (zone, path): posting it again finds the same row.
        """
        CREATE TABLE acquisitions (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            zone_id uuid NOT NULL REFERENCES resources,
            path text NOT NULL CHECK (path <> '' AND path !~ '^/' AND path !~ '(^|/)\\.\\.(/|$)'),
            owner text NOT NULL CHECK (owner <> ''),
            assay_id uuid NOT NULL REFERENCES assays,
            instrument text,
            acquired_at timestamptz,
            metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
            state text NOT NULL CHECK (state IN ('pending', 'registered', 'failed')),
            failure_reason text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (zone_id, path),
            CHECK ((state = 'failed') = (failure_reason IS NOT NULL))
        )
        """,
        // state is how far the object went down the pipeline; failures keep the object and say why.
        """
        CREATE TABLE objects (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            acquisition_id uuid REFERENCES acquisitions,
            assay_id uuid NOT NULL REFERENCES assays,
            parent_id uuid REFERENCES objects,
            logical_path text NOT NULL CHECK (logical_path <> ''),
            owner text NOT NULL CHECK (owner <> ''),
            size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
            checksum text \(checksumCheck),
            format text NOT NULL DEFAULT 'unknown',
            state text NOT NULL CHECK (state IN ('registered', 'converted', 'described', 'scored', 'failed', 'unsupported-format', 'expired')),
            failure_reason text,
            acquired_at timestamptz,
            last_accessed_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (assay_id, logical_path),
            CHECK (parent_id IS NULL OR parent_id <> id),
            CHECK (state NOT IN ('failed', 'unsupported-format') OR failure_reason IS NOT NULL),
            CHECK ((acquisition_id IS NULL) <> (parent_id IS NULL))
        )
        """,
        """
        CREATE TABLE replicas (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            object_id uuid NOT NULL REFERENCES objects ON DELETE CASCADE,
            resource_id uuid NOT NULL REFERENCES resources,
            physical_path text NOT NULL CHECK (physical_path ~ '^/' AND physical_path !~ '(^|/)\\.\\.(/|$)'),
            status text NOT NULL CHECK (status IN ('good', 'stale', 'missing')),
            size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
            checksum text \(checksumCheck),
            last_verified_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (object_id, resource_id),
            UNIQUE (resource_id, physical_path)
        )
        """,
        // Exactly one target per annotation, with real foreign keys (no polymorphic id).
        """
        CREATE TABLE annotations (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            investigation_id uuid REFERENCES investigations ON DELETE CASCADE,
            study_id uuid REFERENCES studies ON DELETE CASCADE,
            assay_id uuid REFERENCES assays ON DELETE CASCADE,
            object_id uuid REFERENCES objects ON DELETE CASCADE,
            kind text NOT NULL CHECK (kind IN ('map', 'tag')),
            namespace text NOT NULL CHECK (namespace <> ''),
            key text NOT NULL CHECK (key <> ''),
            value text NOT NULL DEFAULT '',
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CHECK (num_nonnulls(investigation_id, study_id, assay_id, object_id) = 1),
            CHECK (kind = 'map' OR value = ''),
            UNIQUE NULLS NOT DISTINCT (investigation_id, study_id, assay_id, object_id, namespace, key, value)
        )
        """,
        // Only a SHA-256 of each token is kept; the token itself is shown once at creation.
        """
        CREATE TABLE watcher_tokens (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            zone_id uuid NOT NULL REFERENCES resources,
            token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
            label text NOT NULL DEFAULT '',
            owner text,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            revoked_at timestamptz
        )
        """,
        // Messages written in the same transaction as the change they announce; the relay sends them.
        """
        CREATE TABLE outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            message_id uuid NOT NULL UNIQUE,
            producer text NOT NULL,
            exchange text NOT NULL,
            routing_key text NOT NULL CHECK (routing_key <> ''),
            correlation_id text,
            traceparent text,
            body bytea NOT NULL CHECK (octet_length(body) BETWEEN 1 AND 1048576),
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            sent_at timestamptz,
            attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            last_error text
        )
        """,
        // A consumed message id, written with its effect: a redelivery finds it and does nothing.
        """
        CREATE TABLE inbox (
            consumer text NOT NULL,
            message_id uuid NOT NULL,
            routing_key text NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, message_id)
        )
        """,
        """
        CREATE TABLE audit_log (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL CHECK (actor <> ''),
            action text NOT NULL CHECK (action <> ''),
            target_kind text,
            target_id text,
            details jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object')
        )
        """,
    ]

    private static let indexes = [
        "CREATE INDEX outbox_unsent ON outbox (producer, id) WHERE sent_at IS NULL",
        "CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL",
        "CREATE INDEX inbox_received_at ON inbox (received_at)",
        "CREATE INDEX objects_acquisition ON objects (acquisition_id)",
        "CREATE INDEX objects_parent ON objects (parent_id) WHERE parent_id IS NOT NULL",
        "CREATE INDEX objects_state ON objects (state)",
        "CREATE INDEX replicas_object ON replicas (object_id)",
        "CREATE INDEX annotations_object ON annotations (object_id) WHERE object_id IS NOT NULL",
        "CREATE INDEX annotations_key_value ON annotations (namespace, key, value)",
        "CREATE INDEX acquisitions_state ON acquisitions (state)",
        "CREATE INDEX audit_log_at ON audit_log (at)",
    ]

    // Wakes the producer's relay as soon as the transaction that queued a message commits.
    private static let outboxNotification = [
        """
        CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('fairway_outbox', NEW.producer);
            RETURN NULL;
        END
        $$
        """,
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify()",
    ]
}
