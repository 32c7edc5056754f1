/// Operator tokens: who may change state from the web dashboard (replay a failed object). Like
/// watcher tokens only a SHA-256 is stored; they are not scoped to a zone. And the trace context
/// an acquisition arrived with.
enum OperatorSchema {
    static let migration = Migration(version: 9, name: "operator tokens and traces", statements: [
        """
        CREATE TABLE operator_tokens (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
            label text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            revoked_at timestamptz
        )
        """,
        "GRANT SELECT, UPDATE (last_used_at) ON operator_tokens TO fairway_ingest",
        // The dashboard's storage view reads the quotas and the retention schedule.
        "GRANT SELECT ON retention_notices TO fairway_ingest",
        // The dashboard reads the newest acquisitions and each stage's last hour on every refresh.
        "CREATE INDEX acquisitions_created ON acquisitions (created_at)",
        "CREATE INDEX image_metadata_extracted ON image_metadata (extracted_at)",
        "CREATE INDEX qc_results_scored ON qc_results (scored_at)",
        // The trace an acquisition was posted in (W3C traceparent): its objects' messages continue it.
        "ALTER TABLE acquisitions ADD COLUMN traceparent text CHECK (traceparent IS NULL OR octet_length(traceparent) <= 512)",
    ])
}
