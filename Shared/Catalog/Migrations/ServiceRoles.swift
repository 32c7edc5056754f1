/// One PostgreSQL role per service, granted only the tables and privileges it uses. The roles are
/// created here when missing (as NOLOGIN); deployments give them LOGIN and a password.
enum ServiceRoles {
    /// Every service relays its own outbox and records what it consumed.
    private static let messaging = [
        "outbox": "SELECT, INSERT, UPDATE, DELETE",
        "inbox": "SELECT, INSERT",
        "audit_log": "INSERT",
    ]

    private static let readCatalog = ["resources", "investigations", "studies", "assays", "objects", "replicas", "annotations"]

    static let grants: [(role: String, privileges: [String: String])] = [
        ("fairway_ingest", messaging.merging([
            "resources": "SELECT",
            "watcher_tokens": "SELECT, UPDATE",
            "investigations": "SELECT, INSERT",
            "investigation_members": "SELECT, INSERT",
            "studies": "SELECT, INSERT",
            "assays": "SELECT, INSERT",
            "acquisitions": "SELECT, INSERT, UPDATE",
            "objects": "SELECT, INSERT, UPDATE",
            "replicas": "SELECT, INSERT, UPDATE",
            "annotations": "SELECT, INSERT",
        ]) { $1 }),
        ("fairway_converter", messaging.merging(read(readCatalog)) { $1 }.merging([
            "objects": "SELECT, INSERT, UPDATE",
            "replicas": "SELECT, INSERT",
            "annotations": "SELECT, INSERT",
        ]) { $1 }),
        ("fairway_metadata", messaging.merging(read(readCatalog)) { $1 }.merging([
            "objects": "SELECT, UPDATE",
            "annotations": "SELECT, INSERT, DELETE",
        ]) { $1 }),
        ("fairway_qc", messaging.merging(read(readCatalog)) { $1 }.merging([
            "objects": "SELECT, UPDATE",
        ]) { $1 }),
        ("fairway_retention", messaging.merging(read(readCatalog + ["acquisitions"])) { $1 }.merging([
            "objects": "SELECT, UPDATE",
            "replicas": "SELECT, INSERT, UPDATE, DELETE",
            "investigation_members": "SELECT, UPDATE",
        ]) { $1 }),
        ("fairway_doi", messaging.merging(read(readCatalog + ["investigation_members"])) { $1 }),
    ]

    private static func read(_ tables: [String]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: tables.map { ($0, "SELECT") })
    }

    static var statements: [String] {
        grants.flatMap { role, privileges in
            [
                """
                DO $$ BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '\(role)') THEN CREATE ROLE \(role) NOLOGIN; END IF;
                END $$
                """,
                "GRANT USAGE ON SCHEMA public TO \(role)",
            ] + privileges.sorted { $0.key < $1.key }.map { table, privilege in
                "GRANT \(privilege) ON \(table) TO \(role)"
            }
        }
    }
}
