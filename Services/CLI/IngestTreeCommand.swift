import ArgumentParser
import FairwayAMQP
import FairwayContracts
import FairwayServiceKit
import FairwayStorage
import Foundation
import Logging
import PostgresNIO

/// `fairway ingest DIR --zone NAME`: registers an existing tree (backfill) through the same path as
/// live events: one `acquisition.completed` per file (or top-level folder), consumed by
/// fairway-ingest; then follows the catalog until every acquisition is registered or failed.
struct IngestTreeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Register an existing folder tree of a landing zone (backfill), with progress.",
        discussion: """
            Publishes acquisition.completed for every file under DIR (or every top-level folder with --folders)
            to the broker (FAIRWAY_AMQP_URL), then waits for fairway-ingest to register them, showing files, bytes,
            rate and ETA. DIR must be inside the zone's root. Safe to run again: acquisitions already registered
            are checked, and only changed files become new versions.

            Exit codes: 0 all registered; 1 failure; 2 some acquisitions failed (listed with their reasons).
            """
    )

    @Argument(help: "Folder inside the zone.") var dir: String
    @Option(help: "Landing zone.") var zone: String
    @Flag(help: "One acquisition per top-level folder of DIR instead of one per file.") var folders = false
    @Flag(name: .customLong("no-wait"), help: "Publish and exit without following registration.") var noWait = false
    @Option(help: "Owner recorded on each acquisition (default: the zone name).") var owner: String?
    @Option(help: "Investigation (default: from the path).") var investigation: String?
    @Option(help: "Study (default: from the path).") var study: String?
    @Option(help: "Assay (default: from the path).") var assay: String?
    @Option(help: "Give up waiting after this long, e.g. 30m (default: wait until done).") var timeout: String?
    @OptionGroup var catalog: CatalogOptions

    func validate() throws {
        guard CatalogName.isValid(zone) else { throw ValidationError("--zone must be \(CatalogName.rule)") }
        if let timeout, FairwayConfiguration.parseDuration(timeout) == nil { throw ValidationError("--timeout must be a duration like 30m") }
    }

    func run() async throws {
        let configuration = try catalog.configuration()
        let amqpURL = try configuration.requireAMQPURL()
        let names = FairwayBrokerNames(namespace: configuration.brokerNamespace)
        let zone = zone
        let (zoneRoot, paths, bytes, skipped) = try await catalog.withCatalog { client, logger in
            var rootPath: String?
            for try await (role, root) in try await client.query("SELECT role, root_path FROM resources WHERE name = \(zone)", logger: logger)
                .decode((String, String).self) where role == "landing" { rootPath = root }
            guard let rootPath else { throw CommandFailure("no landing zone is named '\(zone)' (fairway zone list)") }
            return try self.collect(root: ZoneRoot(trusted: rootPath))
        }
        if skipped > 0 { note("skipping \(skipped) files whose names are not UTF-8 or that are not regular files (use --folders to include them)") }
        guard !paths.isEmpty else { throw CommandFailure("nothing to ingest under \(dir)") }
        note("publishing \(paths.count) acquisitions (\(ProgressBar.bytes(bytes))) for zone \(zone) at \(zoneRoot.path)")

        let started = Date()
        var amqp = try AMQPConfiguration(url: amqpURL, connectionName: "fairway ingest (cli)")
        amqp.reconnect.maximum = .seconds(2)
        let publisher = AMQPPublisher(configuration: amqp, topology: AMQPTopology(exchanges: [.init(name: names.exchange)]),
                                      logger: Logger(label: "fairway.cli"))
        let failures = try await publisher.whileRunning {
            var failures: [String] = []
            for chunk in stride(from: 0, to: paths.count, by: 1000).map({ Array(paths[$0 ..< min($0 + 1000, paths.count)]) }) {
                let messages = chunk.map { path in
                    var event = AcquisitionCompleted(zone: zone, path: path)
                    event.owner = owner; event.investigation = investigation; event.study = study; event.assay = assay
                    let envelope = Envelope(payload: event)
                    return AMQPOutgoingMessage(exchange: names.exchange, routingKey: RoutingKey.acquisitionCompleted.rawValue,
                                               body: MessageCodec.encode(event),
                                               properties: AMQPProperties(messageID: envelope.messageID.uuidString.lowercased(),
                                                                          type: RoutingKey.acquisitionCompleted.rawValue,
                                                                          contentType: MessageCodec.contentType))
                }
                for (path, result) in zip(chunk, await publisher.publish(messages)) {
                    if case .failure(let error) = result { failures.append("\(path): \(error)") }
                }
            }
            return failures
        }
        guard failures.isEmpty else {
            for failure in failures.prefix(20) { note("not published: \(failure)") }
            throw CommandFailure("\(failures.count) of \(paths.count) acquisitions could not be published (is fairway-ingest's queue declared? start fairway-ingest once)")
        }
        if noWait { print("published \(paths.count) acquisitions"); return }
        try await follow(paths: paths, bytes: bytes, since: started)
    }

    /// Paths relative to the zone root of everything to post.
    private func collect(root: ZoneRoot) throws -> (ZoneRoot, [String], Int64, Int) {
        let absolute = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        let folder: ZoneRoot
        do { folder = try ZoneRoot(canonicalizing: absolute) } catch { throw CommandFailure("\(dir): \(error)") }
        let base: String
        if folder.path == root.path {
            base = ""
        } else if root.contains(RawPath(folder.path)) {
            base = String(folder.path.dropFirst(root.path.count + 1)) + "/"
        } else {
            throw CommandFailure("\(folder.path) is not inside zone \(zone) (\(root.path))")
        }
        let listing: FileTree.Listing
        do { listing = try FileTree.files(inFolder: RawPath(folder.path)) } catch { throw CommandFailure(error.description) }
        var skipped = listing.skipped
        var paths: [String] = [], seen = Set<String>(), bytes: Int64 = 0
        for file in listing.files {
            let relative = folders ? RawPath(Array(file.relative.bytes.prefix { $0 != UInt8(ascii: "/") })) : file.relative
            guard let name = String(validating: relative.bytes, as: UTF8.self) else { skipped += 1; continue }
            bytes += file.status.size
            if seen.insert(name).inserted { paths.append(base + name) }
        }
        return (root, paths, bytes, skipped)
    }

    /// Polls the catalog until every posted acquisition is registered or failed.
    private func follow(paths: [String], bytes: Int64, since: Date) async throws {
        let zone = zone
        let deadline = timeout.flatMap(FairwayConfiguration.parseDuration).map { ContinuousClock.now + $0 }
        let progress = ProgressBar("registering", total: paths.count, totalBytes: bytes)
        let (registered, failed) = try await catalog.withCatalog { client, logger in
            while true {
                var registered = 0, failed = 0, done: Int64 = 0
                for try await (state, count, sum) in try await client.query("""
                    SELECT a.state, count(*)::int, COALESCE(sum(a.total_bytes), 0)::bigint
                    FROM acquisitions a JOIN resources r ON r.id = a.zone_id
                    WHERE r.name = \(zone) AND a.path = ANY(\(paths)) AND a.updated_at >= \(since) AND a.state <> 'pending'
                    GROUP BY a.state
                    """, logger: logger).decode((String, Int, Int64).self) {
                    if state == "registered" { registered = count } else { failed = count }
                    done += sum
                }
                progress.update(done: registered + failed, bytes: done)
                if registered + failed >= paths.count {
                    progress.finish(done: registered + failed, bytes: done)
                    return (registered, failed)
                }
                if let deadline, ContinuousClock.now >= deadline {
                    progress.finish(done: registered + failed, bytes: done)
                    throw CommandFailure("gave up waiting: \(registered) registered, \(failed) failed, \(paths.count - registered - failed) still pending")
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        print("registered \(registered), failed \(failed) of \(paths.count) acquisitions")
        if failed > 0 {
            try await catalog.withCatalog { client, logger in
                for try await (path, reason) in try await client.query("""
                    SELECT a.path, a.failure_reason FROM acquisitions a JOIN resources r ON r.id = a.zone_id
                    WHERE r.name = \(zone) AND a.path = ANY(\(paths)) AND a.state = 'failed' ORDER BY a.path LIMIT 50
                    """, logger: logger).decode((String, String).self) {
                    note("failed \(path): \(reason)")
                }
            }
            throw ExitCode(2)
        }
    }
}
