/// What the QC step needs: each metric of each scoring (kept per method version, so re-scoring
/// with a new method keeps the old scores), the verdict of each scoring, and the operator's
/// settings per instrument (detector gain, offset, bit depth, thresholds) and per investigation
/// (bit depth, thresholds).
enum QCSchema {
    static let migration = Migration(version: 5, name: "qc", statements: [
        """
        CREATE TABLE qc_results (
            object_id uuid NOT NULL REFERENCES objects ON DELETE CASCADE,
            method_version integer NOT NULL CHECK (method_version > 0),
            status text NOT NULL CHECK (status IN ('scored', 'failed')),
            verdict text CHECK (verdict IN ('pass', 'warn', 'fail')),
            reasons text[] NOT NULL DEFAULT '{}',
            error text,
            report jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(report) = 'object'),
            scored_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (object_id, method_version),
            CHECK ((status = 'failed') = (error IS NOT NULL)),
            CHECK ((status = 'scored') = (verdict IS NOT NULL))
        )
        """,
        // One value per metric, channel and (for focus) Z plane; plane is NULL for a channel's whole stack.
        """
        CREATE TABLE qc_scores (
            object_id uuid NOT NULL,
            method_version integer NOT NULL,
            metric text NOT NULL CHECK (metric ~ '^[a-zA-Z]{1,64}$'),
            channel integer NOT NULL CHECK (channel >= 0),
            plane integer CHECK (plane >= 0),
            value double precision NOT NULL,
            FOREIGN KEY (object_id, method_version) REFERENCES qc_results ON DELETE CASCADE,
            UNIQUE NULLS NOT DISTINCT (object_id, method_version, metric, channel, plane)
        )
        """,
        "CREATE INDEX qc_scores_metric ON qc_scores (metric, value)",
        "CREATE INDEX qc_results_verdict ON qc_results (verdict, scored_at)",
        """
        CREATE TABLE qc_settings (
            scope text NOT NULL CHECK (scope IN ('instrument', 'investigation')),
            name text NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
            gain double precision CHECK (gain > 0),
            offset_adu double precision,
            significant_bits integer CHECK (significant_bits BETWEEN 1 AND 32),
            thresholds jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(thresholds) = 'object'),
            updated_by text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (scope, name),
            CHECK ((gain IS NULL) = (offset_adu IS NULL)),
            CHECK (scope = 'instrument' OR gain IS NULL)
        )
        """,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON qc_results, qc_scores TO fairway_qc",
        "GRANT SELECT ON qc_settings, image_metadata TO fairway_qc",
        "GRANT INSERT, DELETE ON annotations TO fairway_qc",
        "GRANT SELECT ON qc_results, qc_scores TO fairway_ingest, fairway_retention, fairway_doi",
    ])
}
