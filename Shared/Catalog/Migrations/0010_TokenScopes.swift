/// What a watcher token may do. A token on an acquisition PC only posts acquisitions (`acquire`);
/// reading the catalog (`read`) and publishing (`publish`) are granted to a token explicitly.
enum TokenScopeSchema {
    static let migration = Migration(version: 10, name: "watcher token scopes", statements: [
        """
        ALTER TABLE watcher_tokens ADD COLUMN scopes text[] NOT NULL DEFAULT '{acquire}'
            CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['acquire', 'read', 'publish'])
        """,
        // Tokens made before scopes existed keep everything they could do.
        "UPDATE watcher_tokens SET scopes = '{acquire,read,publish}'",
    ])
}
