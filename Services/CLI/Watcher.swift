import AsyncHTTPClient
import FairwayContracts
import FairwayStorage
import Foundation
import NIOCore

/// The watcher's loop: scan, keep what is at rest and not yet posted, post it, record it.
struct Watcher {
    enum Unit { case file, folder }

    struct Report {
        var posted = 0, created = 0, known = 0, unchanged = 0, skipped = 0
        var bytes: Int64 = 0
        var refused: [(String, String)] = []
    }

    /// Something to post: a file, or a top-level folder with all its files.
    struct Candidate {
        let path: String          // as posted: relative to the zone root
        let signature: String     // changes whenever a size, mtime or file set changes
        let bytes: Int64
        let newestModification: Date
    }

    let folder: ZoneRoot
    let prefix: String
    let unit: Unit
    let template: AcquisitionCompleted
    let quiet: Duration
    let interval: Duration
    let client: IngestClient
    let state: WatchState

    func run(once: Bool) async throws -> Report {
        defer { client.shutdown() }
        let events = once ? nil : FolderEvents()
        var report = Report()
        // First sighting of each signature: at rest once it is older than the quiet period.
        var seen: [String: (signature: String, since: ContinuousClock.Instant)] = [:]
        var progress: ProgressBar?
        while true {
            let (candidates, skipped, folders) = scan()
            events?.watch(folders)
            report.skipped = skipped
            var ready: [Candidate] = []
            var waiting = 0
            let now = ContinuousClock.now
            for candidate in candidates {
                if state.posted(candidate.path) == candidate.signature {
                    if progress == nil { report.unchanged += 1 }
                    continue
                }
                if seen[candidate.path]?.signature != candidate.signature { seen[candidate.path] = (candidate.signature, now) }
                let unchangedFor = now - seen[candidate.path]!.since
                let age = Duration.seconds(max(0, Date().timeIntervalSince(candidate.newestModification)))
                if quiet == .zero || unchangedFor >= quiet || age >= quiet {
                    ready.append(candidate)
                } else {
                    waiting += 1
                }
            }
            if once && progress == nil {
                progress = ProgressBar("posting", total: ready.count + waiting, totalBytes: candidates.filter { state.posted($0.path) != $0.signature }.reduce(0) { $0 + $1.bytes })
            }
            if !ready.isEmpty {
                try await post(ready, report: &report, progress: progress)
                for candidate in ready { seen[candidate.path] = nil }
            }
            if once && waiting == 0 {
                progress?.finish(done: report.posted + report.refused.count, bytes: report.bytes)
                return report
            }
            if once {
                try await Task.sleep(for: min(interval, max(quiet / 4, .milliseconds(100))))
            } else if let events {
                // Woken early by a change; files still settling are looked at again within the quiet period.
                let wait = waiting > 0 ? min(interval, max(quiet / 4, .milliseconds(100))) : interval
                if await Self.offPool({ events.wait(timeout: wait) }) { try await Task.sleep(for: .milliseconds(100)) }
            } else {
                try await Task.sleep(for: interval)
            }
        }
    }

    private func post(_ candidates: [Candidate], report: inout Report, progress: ProgressBar?) async throws {
        // Many ready at once (a backfill, a burst): send them in batches of up to `batch` per request.
        let chunks = stride(from: 0, to: candidates.count, by: client.batch).map {
            Array(candidates[$0 ..< min($0 + client.batch, candidates.count)])
        }
        try await withThrowingTaskGroup(of: ([Candidate], [IngestClient.Answer]).self) { group in
            var next = 0
            func add() {
                guard next < chunks.count else { return }
                let chunk = chunks[next]
                next += 1
                let bodies = chunk.map { candidate in
                    var body = template
                    body.path = candidate.path
                    return body
                }
                group.addTask { (chunk, try await client.postRetrying(bodies)) }
            }
            for _ in 0 ..< client.parallel { add() }
            while let (chunk, answers) = try await group.next() {
                for (candidate, answer) in zip(chunk, answers) {
                    switch answer {
                    case .accepted(let id, let created):
                        try state.record(candidate.path, signature: candidate.signature, id: id)
                        report.posted += 1
                        report.bytes += candidate.bytes
                        if created { report.created += 1 } else { report.known += 1 }
                        log("posted \(candidate.path) -> \(id.uuidString.lowercased())\(created ? "" : " (known)")", progress: progress)
                    case .refused(let status, let reason):
                        // The server will not take it as it is; it is tried again when it changes.
                        try state.record(candidate.path, signature: candidate.signature, id: nil, refused: "\(status) \(reason)")
                        report.refused.append((candidate.path, "\(status) \(reason)"))
                        log("refused \(candidate.path): \(status) \(reason)", progress: progress)
                    }
                }
                progress?.update(done: report.posted + report.refused.count, bytes: report.bytes)
                add()
            }
        }
        try state.sync()
    }

    /// One line per path sent, for the record. Left out only under a live progress bar on a
    /// terminal, which the lines would break (the summary still lists what was refused).
    private func log(_ line: String, progress: ProgressBar?) {
        if progress?.interactive != true {
            note(ISO8601Timestamp.format(Date()) + " " + line)
        }
    }

    /// Everything under the folder now, as candidates; names that are not UTF-8 cannot travel in
    /// JSON on their own and are counted as skipped (post their folder with --folders instead).
    private static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }

    func scan() -> (candidates: [Candidate], skipped: Int, folders: [RawPath]) {
        guard let listing = try? FileTree.files(inFolder: RawPath(folder.path)) else {
            note("cannot list \(folder.path); will try again")
            return ([], 0, [])
        }
        var skipped = listing.skipped
        func posted(_ relative: String) -> String { prefix.isEmpty ? relative : prefix + "/" + relative }
        switch unit {
        case .file:
            var candidates: [Candidate] = []
            for file in listing.files {
                guard let name = String(validating: file.relative.bytes, as: UTF8.self) else { skipped += 1; continue }
                let modified = Date(timeIntervalSince1970: Double(file.status.modifiedNanoseconds) / 1e9)
                candidates.append(Candidate(path: posted(name), signature: "\(file.status.size):\(file.status.modifiedNanoseconds)",
                                            bytes: file.status.size, newestModification: modified))
            }
            return (candidates, skipped, listing.folders)
        case .folder:
            var groups: [[UInt8]: [FileEntry]] = [:]
            for file in listing.files {
                let top = Array(file.relative.bytes.prefix { $0 != UInt8(ascii: "/") })
                groups[top, default: []].append(file)
            }
            var candidates: [Candidate] = []
            for (top, files) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                guard let name = String(validating: top, as: UTF8.self) else { skipped += files.count; continue }
                var signature = "\(files.count)"
                var bytes: Int64 = 0, newest: Int64 = 0
                for file in files {
                    signature += "|\(file.relative.display):\(file.status.size):\(file.status.modifiedNanoseconds)"
                    bytes += file.status.size
                    newest = max(newest, file.status.modifiedNanoseconds)
                }
                candidates.append(Candidate(path: posted(name), signature: FileInspection.checksum(of: Data(signature.utf8)),
                                            bytes: bytes, newestModification: Date(timeIntervalSince1970: Double(newest) / 1e9)))
            }
            return (candidates, skipped, listing.folders)
        }
    }
}

/// What the watcher posted, one JSON line per post, appended; the last line for a path wins.
final class WatchState: @unchecked Sendable {
    private struct Line: Codable {
        let path: String
        let signature: String
        let id: String?
        let refused: String?
        let at: String
    }

    private var entries: [String: String] = [:]
    private let handle: FileHandle

    init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read the state file \(path)") }
            for line in data.split(separator: UInt8(ascii: "\n")) {
                // A line cut short by a crash, or damaged, is skipped: that path is simply posted again.
                guard let entry = try? JSONDecoder().decode(Line.self, from: Data(line)) else { continue }
                entries[entry.path] = entry.signature
            }
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw CommandFailure("cannot write the state file \(path)") }
        // After a crash mid-line, start the next line on a line of its own.
        if handle.seekToEndOfFile() > 0, let last = FileManager.default.contents(atPath: path)?.last, last != UInt8(ascii: "\n") {
            handle.write(Data("\n".utf8))
        }
        self.handle = handle
    }

    func posted(_ path: String) -> String? { entries[path] }

    func record(_ path: String, signature: String, id: UUID?, refused: String? = nil) throws {
        entries[path] = signature
        let line = Line(path: path, signature: signature, id: id?.uuidString.lowercased(), refused: refused, at: ISO8601Timestamp.format(Date()))
        handle.write(try JSONEncoder().encode(line) + Data("\n".utf8))
    }

    func sync() throws { try handle.synchronize() }
}

/// `POST /v1/acquisitions` with retries: the server being down or overloaded only delays a post.
struct IngestClient: Sendable {
    enum Answer: Sendable {
        case accepted(UUID, created: Bool)
        case refused(Int, String)
    }

    let endpoint: String
    let token: String
    let parallel: Int
    let batch: Int
    private let http: HTTPClient

    init(baseURL: String, token: String, parallel: Int, batch: Int = 100) {
        endpoint = (baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL) + "/v1/acquisitions"
        self.token = token
        self.parallel = parallel
        self.batch = batch
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: parallel)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() { try? http.syncShutdown() }

    func postRetrying(_ acquisitions: [AcquisitionCompleted]) async throws -> [Answer] {
        var delay: Duration = .milliseconds(500)
        while true {
            do {
                return acquisitions.count == 1 ? [try await post(acquisitions[0])] : try await post(batch: acquisitions)
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                let what = acquisitions.count == 1 ? acquisitions[0].path : "\(acquisitions.count) acquisitions"
                note("\(ISO8601Timestamp.format(Date())) post of \(what) failed (\(error)); retrying in \(ProgressBar.duration(delay.seconds))")
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
    }

    private struct Retry: Error, CustomStringConvertible { let description: String }

    func post(_ acquisition: AcquisitionCompleted) async throws -> Answer {
        let (status, fields) = try await send(MessageCodec.encode(acquisition))
        return try answer(status, fields)
    }

    /// One request for many; the server answers each item as it would have alone.
    func post(batch acquisitions: [AcquisitionCompleted]) async throws -> [Answer] {
        let body = Array("[".utf8) + acquisitions.map(MessageCodec.encode).joined(separator: Array(",".utf8)) + Array("]".utf8)
        let (status, fields) = try await send(body)
        guard status == 200, let results = fields["results"] as? [[String: Any]], results.count == acquisitions.count else {
            return [try answer(status, fields)]   // throws: a whole-request failure
        }
        return try results.map { try answer($0["status"] as? Int ?? 0, $0) }
    }

    private func send(_ body: [UInt8]) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        // A short deadline: the client pool retries connecting until it passes, and the operator
        // should see "retrying" lines while the server is away.
        let response = try await http.execute(request, timeout: .seconds(5))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let fields = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        return (Int(response.status.code), fields)
    }

    private func answer(_ status: Int, _ fields: [String: Any]) throws -> Answer {
        switch status {
        case 200, 202:
            guard let id = (fields["id"] as? String).flatMap(UUID.init(uuidString:)) else { throw Retry(description: "answer without an id") }
            return .accepted(id, created: status == 202)
        case 401:
            throw CommandFailure("the server refused the token: \(fields["detail"] as? String ?? "unauthorized")")
        case 400, 403, 404, 413, 422:
            return .refused(status, fields["detail"] as? String ?? fields["error"] as? String ?? "")
        default:
            throw Retry(description: "HTTP \(status)\(fields["detail"].map { ": \($0)" } ?? "")")
        }
    }
}
