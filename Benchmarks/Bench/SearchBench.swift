import ArgumentParser
import FairwayCatalog
import Foundation
import Logging
import PostgresNIO

/// `search`: fills a migrated scratch catalog with N described objects (machine tags, words,
/// acquisition dates, study-level annotations) and times `CatalogSearch` queries on it: the median
/// of five runs after one warm-up, per query. One JSON line per query.
struct SearchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Time catalog searches over N objects.")
    @Option(help: "PostgreSQL URL of a migrated scratch catalog.") var databaseURL: String
    @Option(help: "Objects in the catalog.") var objects = 1_000_000

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .error; return logger }()
        let total = objects
        try await PostgresClient.withClient(url: databaseURL, logger: logger) { client in
            var present = 0
            for try await count in try await client.query("SELECT count(*)::int FROM objects WHERE logical_path LIKE 'search-bench/%'", logger: logger).decode(Int.self) { present = count }
            if present != total {
                FileHandle.standardError.write(Data("== filling the catalog with \(total) objects\n".utf8))
                try await fill(client, total: total, logger: logger)
            }
            let queries: [(String, [(String, String)])] = [
                ("machine tag, 1 in 20 objects", [("tag", "microscope:Scope 7")]),
                ("machine tag, no match", [("tag", "microscope:Nowhere")]),
                ("study annotation (organism), 1 in 5 studies", [("organism", "Danio rerio")]),
                ("annotation + machine tag", [("organism", "Danio rerio"), ("tag", "objective:63x oil")]),
                ("words", [("text", "sample 417")]),
                ("one month of acquisitions", [("from", "2025-02-01"), ("to", "2025-02-28")]),
                ("investigation + study", [("investigation", "inv-3"), ("study", "study-3-4")]),
                ("tag + words + dates, 50 per page", [("tag", "microscope:Scope 7"), ("text", "sample"), ("from", "2024-01-01"), ("limit", "50")]),
            ]
            for (label, parameters) in queries {
                let search = try CatalogSearch(parameters: parameters, zone: nil)
                _ = try await search.run(client: client, logger: logger)
                var timings: [Double] = []
                var found = 0
                for _ in 0 ..< 5 {
                    let start = ContinuousClock.now
                    let answer = try await search.run(client: client, logger: logger)
                    let elapsed = ContinuousClock.now - start
                    timings.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
                    found = ((try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])?["objects"] as? [Any])?.count ?? 0
                }
                print(#"{"mode":"search","objects":\#(total),"query":"\#(label)","page":\#(found),"median_ms":\#(String(format: "%.1f", timings.sorted()[2]))}"#)
            }
        }
    }

    /// 10 investigations x 10 studies x 10 assays; objects spread over them, 20 microscopes, 4
    /// objectives, 500 sample names, three years of dates; organism on every study.
    private func fill(_ client: PostgresClient, total: Int, logger: Logger) async throws {
        let statements = [
            "DELETE FROM objects WHERE logical_path LIKE 'search-bench/%'",
            "INSERT INTO resources (name, role, root_path) VALUES ('search-bench', 'landing', '/search-bench') ON CONFLICT DO NOTHING",
            "SELECT fairway_assay('inv-' || i, 'study-' || i || '-' || s, 'assay-' || a, NULL) FROM generate_series(0, 9) i, generate_series(0, 9) s, generate_series(0, 9) a",
            """
            INSERT INTO annotations (study_id, kind, namespace, key, value, created_by)
            SELECT s.id, 'map', 'user', 'organism', (ARRAY['Mus musculus', 'Danio rerio', 'Homo sapiens', 'Drosophila melanogaster', 'Arabidopsis thaliana'])[1 + (row_number() OVER (ORDER BY s.id)) % 5], 'bench'
            FROM studies s JOIN investigations i ON i.id = s.investigation_id WHERE i.name LIKE 'inv-%' ON CONFLICT DO NOTHING
            """,
            """
            INSERT INTO acquisitions (zone_id, path, owner, assay_id, state)
            SELECT r.id, 'search-bench/' || y.id, 'bench', y.id, 'registered' FROM assays y JOIN studies s ON s.id = y.study_id
            JOIN investigations i ON i.id = s.investigation_id, resources r WHERE i.name LIKE 'inv-%' AND r.name = 'search-bench'
            ON CONFLICT DO NOTHING
            """,
            """
            CREATE TEMP TABLE bench_assays AS
            SELECT row_number() OVER (ORDER BY q.assay_id) - 1 AS n, q.assay_id, q.id AS acquisition_id
            FROM acquisitions q JOIN resources r ON r.id = q.zone_id WHERE r.name = 'search-bench'
            """,
            """
            INSERT INTO objects (acquisition_id, assay_id, logical_path, owner, size_bytes, format, state)
            SELECT b.acquisition_id, b.assay_id, 'search-bench/' || g || '.ome.tif', 'bench', 1048576, 'ome-tiff', 'described'
            FROM generate_series(0, \(total - 1)) g JOIN bench_assays b ON b.n = g % 1000
            """,
            """
            INSERT INTO image_metadata (object_id, status, origin, file_name, acquired_at, microscope, objective, size_x, size_y, search_document)
            SELECT o.id, 'extracted', 'ome-xml', g || '.ome.tif', timestamptz '2024-01-01' + (g % 1095) * interval '1 day',
                   'Scope ' || (g % 20), (ARRAY['10x air', '20x air', '40x oil', '63x oil'])[1 + g % 4], 1024, 1024,
                   to_tsvector('simple', 'sample ' || (g % 500) || ' scope ' || (g % 20) || ' image ' || g)
            FROM objects o, LATERAL (SELECT split_part(split_part(o.logical_path, '/', 2), '.', 1)::int AS g) x
            WHERE o.logical_path LIKE 'search-bench/%'
            """,
            """
            INSERT INTO annotations (object_id, kind, namespace, key, value, created_by)
            SELECT m.object_id, 'map', 'fairway/machine-tags', t.key, t.value, 'bench'
            FROM image_metadata m JOIN objects o ON o.id = m.object_id, LATERAL (VALUES ('microscope', m.microscope), ('objective', m.objective)) AS t(key, value)
            WHERE o.logical_path LIKE 'search-bench/%'
            """,
            "ANALYZE",
        ]
        // One connection: the temporary table lives in its session.
        try await client.withConnection { connection in
            for statement in statements { _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).collect() }
        }
    }
}
