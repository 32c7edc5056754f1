import Crypto
import Dispatch
import FairwayCatalog
import FairwayContracts
import FairwayMetadata
import FairwayStorage
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// Turns pending acquisitions into registered objects. The `acquisitions` table is its queue: due
/// rows are claimed in batches under a lease, their files are watched until at rest (size and mtime
/// unchanged for the quiet period), checksummed, and registered in place in one transaction with
/// their `object.registered` messages. No request or consumer ever waits on this work, and a killed
/// process leaves nothing behind but leases that expire.
final class Registrar: Service, Sendable {
    struct Configuration: Sendable {
        var quietPeriod: Duration = .seconds(10)
        var batchSize = 256
        var lease: Duration = .seconds(30)
        var maxFilesPerAcquisition = 100_000
        /// Files checksummed at once (each on a thread of its own: reads block).
        var parallelReads = 2
    }

    private let client: PostgresClient
    private let catalog: Catalog
    private let configuration: Configuration
    private let logger: Logger
    private let registeredFiles = Counter(label: "fairway_ingest_files_registered_total")
    private let checksummedBytes = Counter(label: "fairway_ingest_bytes_checksummed_total")
    private let failedAcquisitions = Counter(label: "fairway_ingest_acquisitions_failed_total")

    static let notificationChannel = "fairway_acquisitions"
    private let wakeups: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation

    init(client: PostgresClient, catalog: Catalog, configuration: Configuration, logger: Logger) {
        self.client = client
        self.catalog = catalog
        self.configuration = configuration
        self.logger = logger
        (wakeups, wakeContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Something became due in this process: look now rather than at the next poll.
    func wake() { wakeContinuation.yield() }

    func run() async throws {
        let wake = wakeContinuation
        let poll = max(.milliseconds(100), min(.seconds(1), configuration.quietPeriod / 4))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen(wake) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: poll)
                    wake.yield()
                }
            }
            wake.yield()
            for await _ in wakeups.cancelOnGracefulShutdown() {
                await drain()
            }
            group.cancelAll()
        }
    }

    /// Two loops claim and register batches side by side, so one batch's reads overlap the
    /// other's database writes; SKIP LOCKED and the leases keep their rows apart. The second
    /// starts only once a batch came full: a wake-up for one acquisition (one per POST) costs one
    /// claim, not a second one that finds nothing.
    private func drain() async {
        guard await registerBatch() else { return }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0 ..< 2 {
                group.addTask { while !Task.isCancelled, await self.registerBatch() {} }
            }
        }
    }

    /// Registers one batch; true when it came full (more may be due).
    private func registerBatch() async -> Bool {
        do {
            return try await registerDueBatch() >= configuration.batchSize
        } catch {
            logger.warning("registration batch failed", metadata: ["error": "\(String(reflecting: error))"])
            try? await Task.sleep(for: .seconds(1))
            return false
        }
    }

    private func listen(_ wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.notificationChannel) { notifications in
                        wake.yield()
                        for try await _ in notifications { wake.yield() }
                    }
                }
            } catch {
                logger.debug("acquisitions LISTEN interrupted", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    // MARK: - One batch

    /// Claims due acquisitions, works out what each one needs, and writes the results. Returns how
    /// many were claimed.
    @discardableResult
    func registerDueBatch() async throws -> Int {
        let lease = UUID()
        let started = ContinuousClock.now
        let claimed = try await claim(lease: lease)
        guard !claimed.isEmpty else { return 0 }
        let claimedAt = ContinuousClock.now
        let renewal = Task { await renewLeases(lease) }
        defer { renewal.cancel() }

        var results = await withTaskGroup(of: (Int, Result).self) { group in
            for (index, acquisition) in claimed.enumerated() {
                group.addTask { (index, self.observe(acquisition)) }
            }
            var results = [Result](repeating: .failed("not observed"), count: claimed.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
        let observedAt = ContinuousClock.now
        try await inspectFiles(claimed, &results)
        let inspectedAt = ContinuousClock.now
        defer {
            logger.debug("registration batch", metadata: [
                "acquisitions": "\(claimed.count)", "claim": "\(claimedAt - started)", "observe": "\(observedAt - claimedAt)",
                "inspect": "\(inspectedAt - observedAt)", "write": "\(ContinuousClock.now - inspectedAt)",
            ])
        }
        do {
            try await write(claimed, results, lease: lease)
        } catch let error as PSQLError where claimed.count > 1 {
            // One acquisition refused by a constraint must not hold back the others.
            logger.info("batch write refused; writing acquisitions one by one", metadata: ["error": "\(Self.describe(error))"])
            for (acquisition, result) in zip(claimed, results) {
                do {
                    try await write([acquisition], [result], lease: lease)
                } catch let error as PSQLError {
                    try await write([acquisition], [Self.outcome(of: error, for: acquisition)], lease: lease)
                }
            }
        } catch let error as PSQLError {
            try await write(claimed, [Self.outcome(of: error, for: claimed[0])], lease: lease)
        }
        return claimed.count
    }

    /// What to record when the catalog refused an acquisition's rows.
    static func outcome(of error: PSQLError, for acquisition: Claimed) -> Result {
        switch error.serverInfo?[.constraintName] {
        case "objects_assay_id_logical_path_key":
            // Registered meanwhile by another acquisition or replica: look again with fresh facts.
            return .retry
        case "replicas_resource_id_physical_path_key":
            return .failed("a file of '\(acquisition.path)' is already registered under another investigation, study or assay")
        default:
            return .failed("registration refused by the catalog: \(describe(error))")
        }
    }

    static func describe(_ error: PSQLError) -> String {
        error.serverInfo?[.message] ?? String(describing: error.code)
    }

    struct Claimed: Sendable {
        let id: UUID
        let zoneID: UUID
        let zone: String
        let root: ZoneRoot
        let path: String
        let fingerprint: String?
        let fingerprintSince: Date?
        let assayID: UUID
        let owner: String
        let metadata: [String: String]
        let acquiredAt: Date?
        let now: Date
    }

    private func claim(lease: UUID) async throws -> [Claimed] {
        let seconds = Double(configuration.lease.components.seconds)
        let rows = try await client.query("""
            WITH due AS (
                SELECT id FROM acquisitions
                WHERE state = 'pending' AND next_check_at <= now() AND (lease_until IS NULL OR lease_until < now())
                ORDER BY next_check_at
                LIMIT \(configuration.batchSize)
                FOR UPDATE SKIP LOCKED
            )
            UPDATE acquisitions a
            SET lease_token = \(lease), lease_until = now() + make_interval(secs => \(seconds)), checks = a.checks + 1
            FROM due, resources r
            WHERE a.id = due.id AND r.id = a.zone_id
            RETURNING a.id, r.id, r.name, r.root_path, a.path, a.fingerprint, a.fingerprint_since, a.assay_id, a.owner,
                      a.metadata::text, a.acquired_at, clock_timestamp()
            """, logger: logger)
        var claimed: [Claimed] = []
        for try await (id, zoneID, zone, root, path, fingerprint, since, assayID, owner, metadata, acquiredAt, now)
            in rows.decode((UUID, UUID, String, String, String, String?, Date?, UUID, String, String, Date?, Date).self) {
            let fields = (try? JSONDecoder().decode([String: String].self, from: Data(metadata.utf8))) ?? [:]
            claimed.append(Claimed(id: id, zoneID: zoneID, zone: zone, root: ZoneRoot(trusted: root), path: path,
                                   fingerprint: fingerprint, fingerprintSince: since, assayID: assayID, owner: owner,
                                   metadata: fields, acquiredAt: acquiredAt, now: now))
        }
        return claimed
    }

    private func renewLeases(_ lease: UUID) async {
        let every = configuration.lease / 3
        let seconds = Double(configuration.lease.components.seconds)
        while !Task.isCancelled {
            try? await Task.sleep(for: every)
            if Task.isCancelled { return }
            _ = try? await client.query(
                "UPDATE acquisitions SET lease_until = now() + make_interval(secs => \(seconds)) WHERE lease_token = \(lease)",
                logger: logger)
        }
    }

    // MARK: - Observing the files

    /// A file of an acquisition at rest, and what is known of it.
    struct File: Sendable {
        let entry: FileEntry
        let logicalPath: String
        var previous: Previous?
        var inspection: FileInspection?
        /// For a `fairway.yaml`, what it holds (read here, before the catalog transaction).
        var sidecar: Swift.Result<[UserMetadata.Entry], KeyValueFileError>?

        struct Previous: Sendable {
            let objectID: UUID
            let version: Int
            let checksum: String?
            let size: Int64
            let mtime: Int64?
        }

        /// Size and mtime match the registered version: nothing to read again.
        var unchanged: Bool {
            guard let previous, previous.checksum != nil else { return false }
            return previous.size == entry.status.size && previous.mtime == entry.status.modifiedNanoseconds
        }
    }

    enum Result: Sendable {
        /// Not at rest yet (or changed while read): look again at `nextCheck`.
        case waiting(fingerprint: String, since: Date, nextCheck: Date)
        case atRest(files: [File], skipped: Int, fingerprint: String)
        case failed(String)
        /// Release and look again at once.
        case retry
    }

    private func observe(_ acquisition: Claimed) -> Result {
        let relative: RelativePath
        let resolved: ResolvedPath
        do {
            relative = try RelativePath(acquisition.path)
            resolved = try acquisition.root.resolve(relative)
        } catch .notFound {
            return .failed("'\(acquisition.path)' no longer exists in zone \(acquisition.zone)")
        } catch {
            return .failed(error.description)
        }
        let listing: FileTree.Listing
        do {
            listing = try FileTree.files(of: resolved, name: RawPath(relative.components.last!),
                                         maxFiles: configuration.maxFilesPerAcquisition)
        } catch {
            return .failed(error.description)
        }
        guard !listing.files.isEmpty else { return .failed("the folder holds no files to register") }
        let fingerprint = Self.fingerprint(listing)
        let quiet = configuration.quietPeriod
        if quiet > .zero {
            let since = fingerprint == acquisition.fingerprint ? (acquisition.fingerprintSince ?? acquisition.now) : acquisition.now
            let restsAt = since.addingTimeInterval(quiet.seconds)
            if restsAt > acquisition.now {
                return .waiting(fingerprint: fingerprint, since: since, nextCheck: restsAt)
            }
        }
        let base = acquisition.zone + "/" + relative.description
        let files = listing.files.map { entry in
            File(entry: entry, logicalPath: resolved.status.kind == .folder ? base + "/" + entry.relative.display : base)
        }
        return .atRest(files: files, skipped: listing.skipped, fingerprint: fingerprint)
    }

    /// Size, mtime and identity of every file, as one value to compare between two looks.
    static func fingerprint(_ listing: FileTree.Listing) -> String {
        var hasher = SHA256()
        for file in listing.files {
            hasher.update(data: file.relative.bytes)
            let signals = [file.status.size, file.status.modifiedNanoseconds, Int64(bitPattern: file.status.inode),
                           Int64(bitPattern: file.status.device), Int64(file.relative.bytes.count)]
            signals.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return hasher.finalize().prefix(16).map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    /// Looks up what is already registered under the same logical paths, then checksums every file
    /// that is new or whose size or mtime moved.
    private func inspectFiles(_ claimed: [Claimed], _ results: inout [Result]) async throws {
        var assayIDs: [UUID] = [], paths: [String] = []
        for (acquisition, result) in zip(claimed, results) {
            guard case .atRest(let files, _, _) = result else { continue }
            for file in files { assayIDs.append(acquisition.assayID); paths.append(file.logicalPath) }
        }
        guard !paths.isEmpty else { return }
        var previous: [String: File.Previous] = [:]
        let rows = try await client.query("""
            SELECT o.assay_id, o.logical_path, o.id, o.version, o.checksum, o.size_bytes, r.mtime_ns
            FROM unnest(\(assayIDs), \(paths)) AS wanted(assay_id, logical_path)
            JOIN objects o ON o.assay_id = wanted.assay_id AND o.logical_path = wanted.logical_path
            LEFT JOIN replicas r ON r.object_id = o.id AND r.resource_id = (SELECT zone_id FROM acquisitions WHERE id = o.acquisition_id)
            """, logger: logger)
        for try await (assay, path, id, version, checksum, size, mtime) in rows.decode((UUID, String, UUID, Int, String?, Int64, Int64?).self) {
            previous["\(assay)/\(path)"] = File.Previous(objectID: id, version: version, checksum: checksum, size: size, mtime: mtime)
        }

        // Every file to read, in a flat list, read `parallelReads` at a time off the cooperative pool.
        var jobs: [(acquisition: Int, file: Int)] = []
        for index in results.indices {
            guard case .atRest(var files, let skipped, let fingerprint) = results[index] else { continue }
            for fileIndex in files.indices {
                files[fileIndex].previous = previous["\(claimed[index].assayID)/\(files[fileIndex].logicalPath)"]
                if !files[fileIndex].unchanged { jobs.append((index, fileIndex)) }
            }
            results[index] = .atRest(files: files, skipped: skipped, fingerprint: fingerprint)
        }
        let work: [(FileEntry, ZoneRoot)] = jobs.map { job in
            guard case .atRest(let files, _, _) = results[job.acquisition] else { fatalError("job without files") }
            return (files[job.file].entry, claimed[job.acquisition].root)
        }
        // Split into `parallelReads` runs of consecutive files, each read on one thread start to end:
        // one hop per run rather than per file, which matters with many small files.
        let runs = max(1, min(configuration.parallelReads, work.count))
        let inspected = await withTaskGroup(of: [(Int, Swift.Result<FileInspection, FileInspection.Failure>)].self) { group in
            for run in 0 ..< runs {
                let indices = Array(stride(from: run, to: work.count, by: runs))
                let slice = indices.map { work[$0] }
                group.addTask {
                    await Self.offPool {
                        let reader = FileInspection.Reader()
                        return zip(indices, slice).map { index, item in
                            (index, Swift.Result { () throws(FileInspection.Failure) in
                                try reader.inspect(item.0.physical, name: item.0.relative, root: item.1)
                            })
                        }
                    }
                }
            }
            var outcomes: [Swift.Result<FileInspection, FileInspection.Failure>?] = Array(repeating: nil, count: work.count)
            for await results in group { for (index, outcome) in results { outcomes[index] = outcome } }
            return outcomes
        }
        for (job, outcome) in zip(jobs, inspected) {
            guard case .atRest(var files, let skipped, let fingerprint) = results[job.acquisition] else { continue }
            switch outcome {
            case .success(let inspection)?:
                checksummedBytes.increment(by: Int(inspection.size))
                files[job.file].inspection = inspection
                if files[job.file].entry.relative.bytes == Array(UserMetadata.sidecarName.utf8) {
                    files[job.file].sidecar = Sidecar.read(files[job.file].entry.physical)
                }
                results[job.acquisition] = .atRest(files: files, skipped: skipped, fingerprint: fingerprint)
            case .failure(let failure)? where failure == .changedWhileReading || failure == .vanished:
                // Still being written after all: start the quiet period again.
                logger.debug("file not at rest after all", metadata: ["path": "\(files[job.file].logicalPath)", "why": "\(failure)"])
                let now = claimed[job.acquisition].now
                results[job.acquisition] = .waiting(fingerprint: "changed", since: now,
                                                    nextCheck: now.addingTimeInterval(max(configuration.quietPeriod.seconds, 0.2)))
            case .failure(let failure)?:
                results[job.acquisition] = .failed("\(files[job.file].entry.relative.display): \(failure)")
            case nil:
                break   // acquisition already failed or waiting
            }
        }
    }

    private static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }

    // MARK: - Writing

    private func write(_ claimed: [Claimed], _ results: [Result], lease: UUID) async throws {
        let writer = RegistrationWriter(lease: lease, logger: logger)
        let counts = try await catalog.transaction { transaction in
            try await writer.write(zip(claimed, results).map { ($0, $1) }, in: transaction)
        }
        registeredFiles.increment(by: counts.objects)
        failedAcquisitions.increment(by: counts.failed)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
