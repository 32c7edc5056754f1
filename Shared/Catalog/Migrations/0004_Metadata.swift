/// What the metadata step needs: one row of image metadata per image of record (or the reason it
/// could not be read), a naming pattern per investigation, and the indexes search relies on.
enum MetadataSchema {
    static let migration = Migration(version: 4, name: "metadata", statements: [
        """
        CREATE TABLE image_metadata (
            object_id uuid PRIMARY KEY REFERENCES objects ON DELETE CASCADE,
            status text NOT NULL CHECK (status IN ('extracted', 'failed')),
            error text,
            origin text CHECK (origin IN ('ome-xml', 'imagej', 'tiff-tags')),
            file_name text NOT NULL,
            image_name text,
            acquisition_date text,
            acquired_at timestamptz,
            size_x integer, size_y integer, size_z integer, size_c integer, size_t integer,
            pixel_type text,
            dimension_order text,
            significant_bits integer,
            physical_size_x double precision, physical_size_y double precision, physical_size_z double precision,
            time_increment double precision,
            microscope text,
            objective text,
            experimenter text,
            software text,
            record jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(record) = 'object'),
            naming jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(naming) = 'object'),
            missing_fields text[] NOT NULL DEFAULT '{}',
            search_document tsvector NOT NULL DEFAULT ''::tsvector,
            extracted_at timestamptz NOT NULL DEFAULT now(),
            CHECK ((status = 'failed') = (error IS NOT NULL))
        )
        """,
        "CREATE INDEX image_metadata_acquired_at ON image_metadata (acquired_at) WHERE acquired_at IS NOT NULL",
        "CREATE INDEX image_metadata_search ON image_metadata USING gin (search_document)",
        // Search matches annotation values without regard to case, at any ISA level.
        "CREATE INDEX annotations_key_lower_value ON annotations (key, lower(value))",
        "CREATE INDEX annotations_investigation ON annotations (investigation_id) WHERE investigation_id IS NOT NULL",
        "CREATE INDEX annotations_study ON annotations (study_id) WHERE study_id IS NOT NULL",
        "CREATE INDEX annotations_assay ON annotations (assay_id) WHERE assay_id IS NOT NULL",
        "CREATE INDEX objects_assay ON objects (assay_id, id)",
        // `{date:yyyy-MM-dd}_{project}_…`: annotations taken from file names of this investigation.
        "ALTER TABLE investigations ADD COLUMN naming_pattern text CHECK (length(naming_pattern) BETWEEN 1 AND 512)",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON image_metadata TO fairway_metadata",
        "GRANT SELECT ON image_metadata TO fairway_ingest, fairway_converter, fairway_qc, fairway_retention, fairway_doi",
        "GRANT SELECT ON acquisitions TO fairway_metadata",
    ])
}
