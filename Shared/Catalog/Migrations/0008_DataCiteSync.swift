/// Registration at DataCite, kept in the catalog so that no network failure loses or duplicates a
/// DOI. Each publication row is its own outbox: a local change (publish, update, withdraw) bumps
/// `revision` in the transaction that makes it, and the DOI service sends DataCite what is needed
/// until `synced_revision` catches up. `in_flight` is set, and committed, before each call, so a
/// call whose answer was never recorded (timeout, crash) is reconciled with a GET before any retry.
enum DataCiteSyncSchema {
    static let migration = Migration(version: 8, name: "datacite sync", statements: [
        "ALTER TABLE publications DROP CONSTRAINT publications_state_check",
        """
        ALTER TABLE publications ADD CONSTRAINT publications_state_check
            CHECK (state IN ('reserved', 'registering', 'findable', 'hidden', 'withdrawn', 'failed'))
        """,
        """
        ALTER TABLE publications
            ADD COLUMN target text NOT NULL DEFAULT 'findable' CHECK (target IN ('findable', 'hidden')),
            ADD COLUMN revision integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
            ADD COLUMN synced_revision integer NOT NULL DEFAULT 0,
            ADD COLUMN in_flight boolean NOT NULL DEFAULT false,
            ADD COLUMN attempts integer NOT NULL DEFAULT 0,
            ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
            ADD COLUMN lease_token uuid,
            ADD COLUMN lease_until timestamptz,
            ADD COLUMN remote_url text,
            ADD COLUMN remote_checked_at timestamptz,
            ADD COLUMN synced_at timestamptz,
            ADD COLUMN registered_at timestamptz,
            ADD COLUMN withdrawn_at timestamptz,
            ADD COLUMN withdrawn_by text,
            ADD COLUMN withdrawal_reason text,
            ADD COLUMN delete_requested boolean NOT NULL DEFAULT false,
            ADD CONSTRAINT publications_withdrawal CHECK ((withdrawn_at IS NULL) = (withdrawal_reason IS NULL))
        """,
        "CREATE INDEX publications_due ON publications (next_attempt_at) WHERE synced_revision < revision OR in_flight",
        // Problems a service cannot solve by retrying (DataCite refusing the credentials): shown by
        // `fairway status` until the service clears them.
        """
        CREATE TABLE service_alerts (
            service text NOT NULL,
            kind text NOT NULL,
            message text NOT NULL,
            raised_at timestamptz NOT NULL DEFAULT now(),
            cleared_at timestamptz,
            PRIMARY KEY (service, kind)
        )
        """,
        "GRANT SELECT, INSERT, UPDATE ON service_alerts TO fairway_doi",
        "GRANT SELECT ON service_alerts TO fairway_ingest, fairway_converter, fairway_metadata, fairway_qc, fairway_retention",
        // The catalog API takes publication requests (POST /v1/publications) like the CLI.
        "GRANT INSERT, UPDATE ON publications TO fairway_ingest",
    ])
}
