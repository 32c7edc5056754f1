/// What retention needs: policies per investigation (NULL: the facility default), the extension an
/// investigation may be granted once, holds that keep objects from being tiered or deleted, the
/// two-phase action log (also the audit trail of every file it touches), the notices sent before
/// expiry and the e-mail address of each user they go to. Expired objects keep their row with
/// who deleted them, when and why.
enum RetentionSchema {
    static let migration = Migration(version: 6, name: "retention", statements: [
        """
        CREATE TABLE retention_policies (
            investigation_id uuid UNIQUE NULLS NOT DISTINCT REFERENCES investigations ON DELETE CASCADE,
            policy jsonb NOT NULL CHECK (jsonb_typeof(policy) = 'object'),
            source text NOT NULL,
            updated_by text NOT NULL CHECK (updated_by <> ''),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE retention_extensions (
            investigation_id uuid PRIMARY KEY REFERENCES investigations ON DELETE CASCADE,
            granted_by text NOT NULL CHECK (granted_by <> ''),
            granted_at timestamptz NOT NULL,
            reason text NOT NULL CHECK (reason <> '')
        )
        """,
        """
        CREATE TABLE retention_holds (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            study_id uuid REFERENCES studies ON DELETE CASCADE,
            object_id uuid REFERENCES objects ON DELETE CASCADE,
            source text NOT NULL CHECK (source IN ('operator', 'publication')),
            reason text NOT NULL CHECK (reason <> ''),
            created_by text NOT NULL CHECK (created_by <> ''),
            created_at timestamptz NOT NULL DEFAULT now(),
            released_by text,
            released_at timestamptz,
            CHECK (num_nonnulls(study_id, object_id) = 1),
            CHECK ((released_at IS NULL) = (released_by IS NULL))
        )
        """,
        "CREATE UNIQUE INDEX retention_holds_active ON retention_holds (study_id, object_id, source) NULLS NOT DISTINCT WHERE released_at IS NULL",
        // scheduled → running → done | failed | cancelled. A destructive action waits at least the
        // grace period between scheduled_at and not_before; `phase` and `target_path` let a run
        // that was killed half-way be finished by the next one.
        """
        CREATE TABLE retention_actions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            object_id uuid NOT NULL REFERENCES objects ON DELETE CASCADE,
            kind text NOT NULL CHECK (kind IN ('replicate', 'clean-buffer', 'tier', 'restage', 'delete', 'repair')),
            state text NOT NULL CHECK (state IN ('scheduled', 'running', 'done', 'failed', 'cancelled')),
            phase text,
            resource_id uuid REFERENCES resources,
            target_path text,
            reason text NOT NULL CHECK (reason <> ''),
            requested_by text NOT NULL CHECK (requested_by <> ''),
            scheduled_at timestamptz NOT NULL,
            not_before timestamptz NOT NULL,
            started_at timestamptz,
            finished_at timestamptz,
            lease_until timestamptz,
            outcome text,
            error text,
            CHECK (not_before >= scheduled_at),
            CHECK ((state = 'failed') = (error IS NOT NULL))
        )
        """,
        "CREATE UNIQUE INDEX retention_actions_open ON retention_actions (object_id, kind) WHERE state IN ('scheduled', 'running')",
        "CREATE INDEX retention_actions_due ON retention_actions (not_before) WHERE state IN ('scheduled', 'running')",
        "CREATE INDEX retention_actions_object ON retention_actions (object_id, finished_at)",
        """
        CREATE TABLE retention_notices (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            investigation_id uuid NOT NULL REFERENCES investigations ON DELETE CASCADE,
            owner text NOT NULL,
            expires_on date NOT NULL,
            days_before integer NOT NULL CHECK (days_before >= 0),
            object_count integer NOT NULL CHECK (object_count > 0),
            total_bytes bigint NOT NULL CHECK (total_bytes >= 0),
            recipients text[] NOT NULL,
            delivery text NOT NULL CHECK (delivery IN ('smtp', 'mailbox')),
            sent_at timestamptz NOT NULL,
            UNIQUE (investigation_id, owner, expires_on, days_before)
        )
        """,
        // Every fixity check: the report's figures and the trail of each replica's verifications.
        """
        CREATE TABLE fixity_checks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            replica_id uuid,
            object_id uuid NOT NULL REFERENCES objects ON DELETE CASCADE,
            resource_id uuid NOT NULL REFERENCES resources,
            physical_path text NOT NULL,
            checked_at timestamptz NOT NULL DEFAULT now(),
            outcome text NOT NULL CHECK (outcome IN ('ok', 'mismatch', 'missing', 'unreadable')),
            bytes bigint NOT NULL CHECK (bytes >= 0),
            seconds double precision NOT NULL CHECK (seconds >= 0),
            detail text
        )
        """,
        "CREATE INDEX fixity_checks_at ON fixity_checks (checked_at)",
        """
        CREATE TABLE quota_notices (
            investigation_id uuid NOT NULL REFERENCES investigations ON DELETE CASCADE,
            level integer NOT NULL CHECK (level IN (80, 100)),
            usage_bytes bigint NOT NULL,
            quota_bytes bigint NOT NULL,
            sent_at timestamptz NOT NULL,
            PRIMARY KEY (investigation_id, level)
        )
        """,
        """
        CREATE TABLE contacts (
            username text PRIMARY KEY CHECK (username <> ''),
            email text NOT NULL CHECK (email ~ '^[^@\\s<>",;]+@[^@\\s<>",;]+$'),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        ALTER TABLE objects
            ADD COLUMN deleted_at timestamptz,
            ADD COLUMN deleted_by text,
            ADD COLUMN deletion_reason text,
            ADD CONSTRAINT objects_deletion_recorded CHECK ((state = 'expired') = (deleted_at IS NOT NULL AND deleted_by IS NOT NULL AND deletion_reason IS NOT NULL))
        """,
        // A period of a policy document as an interval; NULL when absent or `never`. Periods are
        // stored as written (60d, 2y), which PostgreSQL casts with calendar years.
        """
        CREATE FUNCTION retention_period(policy jsonb, key text) RETURNS interval
        LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE WHEN policy->>key IS NULL OR policy->>key = 'never' THEN NULL ELSE (policy->>key)::interval END
        $$
        """,
        // The policy that applies to each investigation: its own keys over the facility default's.
        """
        CREATE VIEW retention_effective_policies AS
        SELECT i.id AS investigation_id, i.name AS investigation, i.created_at AS investigation_created_at,
               coalesce(f.policy, '{}'::jsonb) || coalesce(p.policy, '{}'::jsonb) AS policy,
               x.granted_at AS extended_at
        FROM investigations i
        LEFT JOIN retention_policies p ON p.investigation_id = i.id
        LEFT JOIN retention_policies f ON f.investigation_id IS NULL
        LEFT JOIN retention_extensions x ON x.investigation_id = i.id
        """,
        "GRANT SELECT ON retention_effective_policies TO fairway_retention, fairway_ingest, fairway_doi",
        // The planner's scans: objects by age and by last access, replicas by resource.
        "CREATE INDEX objects_created_at ON objects (created_at) WHERE state <> 'expired'",
        "CREATE INDEX replicas_resource_object ON replicas (resource_id, object_id)",
        "CREATE INDEX replicas_verified ON replicas (last_verified_at NULLS FIRST)",
        """
        GRANT SELECT, INSERT, UPDATE ON retention_actions, retention_notices, retention_holds, fixity_checks TO fairway_retention
        """,
        "GRANT SELECT ON retention_policies, retention_extensions, contacts, investigation_members TO fairway_retention",
        "GRANT UPDATE ON acquisitions TO fairway_retention",
        "GRANT UPDATE (quota_bytes) ON investigations TO fairway_retention",
        "GRANT SELECT, INSERT, DELETE ON quota_notices TO fairway_retention",
        "GRANT SELECT ON retention_holds, retention_actions TO fairway_ingest, fairway_doi",
    ])
}
