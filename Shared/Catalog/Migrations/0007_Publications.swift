/// What DOI minting needs: one publication per study, its DOI chosen before any remote call, its
/// state (`reserved` until DataCite has it; `findable` or `hidden` after), the request as given,
/// the last record built, and the problems a user must fix, per field.
enum PublicationSchema {
    static let migration = Migration(version: 7, name: "publications", statements: [
        """
        CREATE TABLE publications (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            study_id uuid NOT NULL UNIQUE REFERENCES studies,
            doi text NOT NULL UNIQUE CHECK (doi ~ '^10\\.[0-9]{4,9}(\\.[0-9]+)*/[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{5}$'),
            state text NOT NULL CHECK (state IN ('reserved', 'registering', 'findable', 'hidden', 'failed')),
            status_detail text,
            landing_url text NOT NULL CHECK (landing_url ~ '^https?://'),
            metadata jsonb NOT NULL CHECK (jsonb_typeof(metadata) = 'object'),
            record jsonb CHECK (jsonb_typeof(record) = 'object'),
            remote_state text,
            field_errors jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(field_errors) = 'array'),
            requested_by text NOT NULL CHECK (requested_by <> ''),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        "CREATE INDEX publications_state ON publications (state)",
        "GRANT SELECT, INSERT, UPDATE ON publications TO fairway_doi",
        "GRANT SELECT ON publications TO fairway_ingest, fairway_retention",
        "GRANT SELECT ON image_metadata TO fairway_doi",
    ])
}
