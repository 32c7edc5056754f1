import ArgumentParser
import FairwayCatalog
import FairwayContracts
import FairwayMetadata
import FairwayServiceKit
import Foundation
import Logging
import PostgresNIO

/// `fairway-metadata benchmark DIR`: the figures of Benchmarks/metadata. Every file of DIR becomes
/// a converted object in a scratch investigation; then (1) parse only: each file's metadata read,
/// one after the other; (2) extract + store: the service's own prepare and record steps and its
/// group commit through the inbox, with the messages in flight the worker allows. One JSON line.
struct BenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "benchmark", abstract: "Measure extract and extract + store (for Benchmarks/metadata).", shouldDisplay: false)

    @Argument(help: "Folder of OME-TIFF files.") var folder: String
    @Option(help: "PostgreSQL URL of a migrated scratch catalog.") var databaseURL: String
    @Option(help: "Messages in flight (the worker's for a batched route).") var concurrency = 2 * MessageRoutes.maxBatch

    func run() async throws {
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path
        let files = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasSuffix(".ome.tif") }.sorted()
            .map { URL(fileURLWithPath: root).appendingPathComponent($0).path }
        guard !files.isEmpty else { throw ValidationError("no .ome.tif files in \(root)") }

        // 1. Parse only.
        let parseStart = ContinuousClock.now
        for file in files { _ = try MetadataExtractor.extract(path: file) }
        let parse = (ContinuousClock.now - parseStart) / files.count

        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .error; return logger }()
        let concurrency = concurrency
        let run = UUID().uuidString.prefix(8).lowercased()
        let (stored, prepareLatency, recordLatency): (Duration, Duration, Duration) = try await PostgresClient.withClient(url: databaseURL, logger: logger) { client in
            // The scratch catalog: one landing zone on the folder, one acquisition, an object per file.
            let assay = try await client.query("SELECT fairway_assay('bench-metadata', 'run-' || \(run), 'files', NULL)", logger: logger).decode(UUID.self)
            var assayID: UUID?
            for try await id in assay { assayID = id }
            guard let assayID else { throw ValidationError("no assay") }
            _ = try await client.query("""
                INSERT INTO resources (name, role, root_path) VALUES ('bench-metadata', 'landing', \(root)) ON CONFLICT (name) DO UPDATE SET root_path = EXCLUDED.root_path
                """, logger: logger).collect()
            // A previous run's objects hold the same physical paths.
            _ = try await client.query("DELETE FROM objects WHERE logical_path LIKE 'bench/%' AND owner = 'bench'", logger: logger).collect()
            let names = files.map { "bench/\(run)/" + URL(fileURLWithPath: $0).lastPathComponent }
            var ids: [UUID] = []
            for try await id in try await client.query("""
                WITH acquisition AS (
                    INSERT INTO acquisitions (zone_id, path, owner, assay_id, state)
                    SELECT id, 'bench-' || \(run), 'bench', \(assayID), 'registered' FROM resources WHERE name = 'bench-metadata' RETURNING id, zone_id
                ), object AS (
                    INSERT INTO objects (acquisition_id, assay_id, logical_path, owner, size_bytes, format, state)
                    SELECT a.id, \(assayID), f.name, 'bench', 0, 'ome-tiff', 'converted' FROM acquisition a, unnest(\(names)::text[]) AS f(name)
                    RETURNING id, logical_path
                ), replica AS (
                    INSERT INTO replicas (object_id, resource_id, physical_path, status, size_bytes)
                    SELECT o.id, a.zone_id, p.path, 'good', 0 FROM object o, acquisition a,
                           unnest(\(names)::text[], \(files)::text[]) AS p(name, path) WHERE p.name = o.logical_path
                )
                SELECT id FROM object ORDER BY logical_path
                """, logger: logger).decode(UUID.self) { ids.append(id) }

            // 2. Extract + store, as the worker does it.
            let catalog = Catalog(client: client, service: "metadata", exchange: "fairway.bench", logger: logger)
            let descriptions = Descriptions(client: client, schema: nil, logger: logger)
            let commits = GroupCommit<(Envelope<ObjectConverted>, DescriptionOutcome)>(
                catalog: catalog, routingKey: RoutingKey.objectConverted.rawValue, messageID: \.0.messageID, apply: descriptions.record)
            let latencies = Latencies()
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, id) in ids.enumerated() {
                    if index >= concurrency { try await group.next() }
                    group.addTask {
                        let envelope = Envelope(payload: ObjectConverted(sourceObjectID: id, objectID: id, resource: "bench-metadata", physicalPath: "",
                                                                         size: 0, checksum: "", format: "ome-tiff", inPlace: true))
                        let begun = ContinuousClock.now
                        let outcome = try await descriptions.prepare(envelope)
                        let prepared = ContinuousClock.now
                        try await commits.commit((envelope, outcome))
                        await latencies.add(prepare: prepared - begun, record: ContinuousClock.now - prepared)
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - start
            var described = 0
            for try await count in try await client.query("SELECT count(*)::int FROM objects WHERE id = ANY(\(ids)) AND state = 'described'", logger: logger).decode(Int.self) {
                described = count
            }
            guard described == ids.count else { throw ValidationError("only \(described) of \(ids.count) objects were described") }
            // The outbox rows are left unsent: no relay runs here; clear them so they do not pile up.
            _ = try await client.query("DELETE FROM outbox WHERE producer = 'metadata' AND sent_at IS NULL AND exchange = 'fairway.bench'", logger: logger).collect()
            return (elapsed, await latencies.prepare / ids.count, await latencies.record / ids.count)
        }
        func microseconds(_ duration: Duration) -> Double { Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12 }
        print(#"{"files":\#(files.count),"parse_us_per_file":\#(String(format: "%.1f", microseconds(parse))),"#
            + #""extract_store_seconds":\#(String(format: "%.3f", microseconds(stored) / 1e6)),"#
            + #""extract_store_files_per_s":\#(String(format: "%.0f", Double(files.count) / (microseconds(stored) / 1e6))),"concurrency":\#(concurrency),"#
            + #""prepare_ms_mean":\#(String(format: "%.2f", microseconds(prepareLatency) / 1e3)),"record_ms_mean":\#(String(format: "%.2f", microseconds(recordLatency) / 1e3))}"#)
    }
}

/// Time spent per step, summed over the files handled at once.
private actor Latencies {
    var prepare = Duration.zero
    var record = Duration.zero
    func add(prepare: Duration, record: Duration) {
        self.prepare += prepare
        self.record += record
    }
}
