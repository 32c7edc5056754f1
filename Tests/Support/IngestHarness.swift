public import AsyncHTTPClient
public import FairwayAMQP
public import FairwayContracts
public import Foundation
import NIOCore
import PostgresNIO

/// One ingest under test: its own database (as the fairway_ingest role), its own broker namespace,
/// a landing zone in a temporary folder with a watcher token, the real `fairway-ingest` executable
/// on a free port, and a queue that collects every `object.registered` and `object.converted`.
/// The converter can run beside it (`startConverter`), writing into a `derived` resource.
public final class IngestHarness: @unchecked Sendable {
    public let database: TestDatabase
    public let broker: TestBroker
    public let landing: URL
    public let derived: URL
    public private(set) var converter: ChildProcess?
    public private(set) var metadata: ChildProcess?
    public private(set) var qc: ChildProcess?
    public private(set) var retention: ChildProcess?
    public private(set) var doi: ChildProcess?
    /// Port of fairway-doi's HTTP endpoint once started.
    public private(set) var doiPort = 0
    /// HTTP port of each service started beside ingest (converter, metadata, qc, retention, doi).
    public private(set) var servicePorts: [String: Int] = [:]
    public let zone: String
    public let port: Int
    public let quietPeriod: String
    public private(set) var token = ""
    public private(set) var service: ChildProcess?
    public let observer: AMQPConsumer
    private var observerTask: Task<Void, any Error>?
    private let collected = Collected()

    public static let http = HTTPClient(eventLoopGroupProvider: .singleton)

    public init(quietPeriod: String = "0", zone: String = "scope-1") async throws {
        database = try await TestDatabase.create()
        broker = try TestBroker()
        landing = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-landing-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: landing, withIntermediateDirectories: true)
        derived = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-derived-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: derived, withIntermediateDirectories: true)
        self.zone = zone
        port = freePort()
        self.quietPeriod = quietPeriod
        observer = broker.consumer(service: "observer", keys: [RoutingKey.objectRegistered.rawValue, RoutingKey.objectConverted.rawValue, RoutingKey.metadataExtracted.rawValue, RoutingKey.qcScored.rawValue])
        let observer = observer, collected = collected
        observerTask = Task {
            try await withRunningServices([observer]) {
                for await delivery in observer.deliveries {
                    await collected.add(delivery)
                    delivery.ack()
                }
            }
        }
        guard try await eventually(timeout: .seconds(20), { observer.status.isConnected }) else {
            throw TestSetupError("observer queue did not connect")
        }
        try await cli("zone", "add", zone, "--path", landing.path)
        try await cli("zone", "add", "derived", "--path", derived.path, "--role", "derived")
        token = try await createToken(zone: zone)
    }

    /// Runs `body` with a fresh harness and always tears it down, also when the body throws.
    public static func with(quietPeriod: String = "0", started: Bool = true, _ body: (IngestHarness) async throws -> Void) async throws {
        let harness = try await IngestHarness(quietPeriod: quietPeriod)
        do {
            if started { try await harness.start() }
            try await body(harness)
        } catch {
            await harness.tearDown()
            throw error
        }
        await harness.tearDown()
    }

    /// A new watcher token for `zone` (the only line `token create` prints on stdout).
    public func createToken(zone: String) async throws -> String {
        let output = try await cli("token", "create", "--zone", zone, "--label", "test-watcher", "--scope", "acquire", "--scope", "read", "--scope", "publish")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("fwt_") }) else {
            throw TestSetupError("token create printed no token: \(output)")
        }
        return String(line)
    }

    /// `fairway ARGS…` against the test database, as the schema owner; returns stdout+stderr, throws on failure.
    @discardableResult
    public func cli(_ arguments: String..., environment: [String: String] = [:]) async throws -> String {
        let result = try await cliResult(arguments, environment: environment)
        guard result.status == 0 else { throw TestSetupError("fairway \(arguments.joined(separator: " ")) exited \(result.status): \(result.output)") }
        // Only the last line for `token create` (stdout); logs go to stderr but share the file.
        return result.output
    }

    public func cliResult(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        try await TestEnvironment.run(try TestEnvironment.executable("fairway"), arguments, environment: try cliEnvironment.merging(environment) { $1 })
    }

    /// What `fairway` needs to reach this harness's catalog and broker.
    public var cliEnvironment: [String: String] {
        get throws {
            [
                "FAIRWAY_DATABASE_URL": database.url,
                "FAIRWAY_AMQP_URL": try TestEnvironment.amqpURL,
                "FAIRWAY_BROKER_NAMESPACE": broker.names.namespace,
                "FAIRWAY_LOG_LEVEL": "error",
                // Notices of commands run without an SMTP server stay with the test, not in the checkout.
                "FAIRWAY_NOTICE_MAILBOX": landing.deletingLastPathComponent().appendingPathComponent("\(database.name)-notices.mbox").path,
            ]
        }
    }

    public var serviceEnvironment: [String: String] {
        get throws {
            var url = URLComponents(string: try TestEnvironment.require("FAIRWAY_INGEST_DATABASE_URL"))!
            url.path = "/\(database.name)"
            return [
                "FAIRWAY_DATABASE_URL": url.string!,
                // The admin user: the per-service user may only use the `fairway` namespace.
                "FAIRWAY_AMQP_URL": try TestEnvironment.amqpURL,
                "FAIRWAY_BROKER_NAMESPACE": broker.names.namespace,
                "FAIRWAY_HTTP_PORT": "\(port)",
                "FAIRWAY_QUIET_PERIOD": quietPeriod,
                "FAIRWAY_LOG_FORMAT": "json",
            ]
        }
    }

    /// Starts fairway-ingest (with `environment` added) and waits until it is ready.
    public func start(environment: [String: String] = [:]) async throws {
        let service = try ChildProcess(try TestEnvironment.executable("fairway-ingest"), ["serve"],
                                       environment: try serviceEnvironment.merging(environment) { $1 })
        self.service = service
        let ready = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
            (try? await self.request(.GET, "/readyz", token: nil).status) == 200
        }
        guard ready else { throw TestSetupError("fairway-ingest did not become ready: \(service.output.suffix(3000))") }
    }

    public func kill() async {
        guard let service else { return }
        Glibc.kill(service.pid, SIGKILL)
        _ = await service.status()
    }

    public func stop() async -> Int32? {
        guard let service else { return nil }
        service.terminate()
        return await service.status()
    }

    public var serviceLog: String { service?.output ?? "" }

    /// Starts fairway-converter (as the fairway_converter role) and waits until it is ready.
    public func startConverter(_ environment: [String: String] = [:]) async throws {
        converter = try await startService("converter", environment)
    }

    /// Starts fairway-metadata (as the fairway_metadata role) and waits until it is ready.
    public func startMetadata(_ environment: [String: String] = [:]) async throws {
        metadata = try await startService("metadata", environment)
    }

    /// Starts fairway-qc (as the fairway_qc role) and waits until it is ready.
    public func startQC(_ environment: [String: String] = [:]) async throws {
        qc = try await startService("qc", environment)
    }

    /// Starts fairway-retention (as the fairway_retention role) and waits until it is ready.
    public func startRetention(_ environment: [String: String] = [:]) async throws {
        retention = try await startService("retention", environment)
    }

    /// Starts fairway-doi (as the fairway_doi role) on a port of its own and waits until it is ready.
    public func startDOI(_ environment: [String: String] = [:]) async throws {
        doiPort = freePort()
        doi = try await startService("doi", ["FAIRWAY_HTTP_PORT": "\(doiPort)"].merging(environment) { $1 })
    }

    /// Stops fairway-doi: SIGTERM, or SIGKILL to simulate a crash; waits for it to exit.
    public func stopDOI(kill: Bool = false) async {
        guard let doi else { return }
        if kill { Glibc.kill(doi.pid, SIGKILL) } else { doi.terminate() }
        _ = await doi.status()
        self.doi = nil
    }

    /// Stops fairway-retention (SIGTERM) and waits for it to exit.
    public func stopRetention() async {
        guard let retention else { return }
        retention.terminate()
        _ = await retention.status()
        self.retention = nil
    }

    private func startService(_ name: String, _ environment: [String: String]) async throws -> ChildProcess {
        var url = URLComponents(string: try TestEnvironment.require("FAIRWAY_\(name.uppercased())_DATABASE_URL"))!
        url.path = "/\(database.name)"
        let port = environment["FAIRWAY_HTTP_PORT"].flatMap(Int.init) ?? freePort()
        let process = try ChildProcess(try TestEnvironment.executable("fairway-\(name)"), ["serve"], environment: [
            "FAIRWAY_DATABASE_URL": url.string!,
            "FAIRWAY_AMQP_URL": try TestEnvironment.amqpURL,
            "FAIRWAY_BROKER_NAMESPACE": broker.names.namespace,
            "FAIRWAY_HTTP_PORT": "\(port)",
            "FAIRWAY_LOG_FORMAT": "json",
            "FAIRWAY_NOTICE_MAILBOX": landing.deletingLastPathComponent().appendingPathComponent("\(database.name)-notices.mbox").path,
        ].merging(environment) { $1 })
        let ready = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz")
            request.method = .GET
            return (try? await Self.http.execute(request, timeout: .seconds(5)).status.code) == 200
        }
        guard ready else { throw TestSetupError("fairway-\(name) did not become ready: \(process.output.suffix(3000))") }
        servicePorts[name] = port
        return process
    }

    /// A service's Prometheus text (`ingest` or a started service's name).
    public func metrics(of service: String) async throws -> String {
        let port = service == "ingest" ? self.port : servicePorts[service] ?? 0
        let response = try await Self.http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(10))
        return String(buffer: try await response.body.collect(upTo: 8 << 20))
    }

    public func convertedMessages() async -> [(messageID: String?, payload: ObjectConverted)] { await collected.converted }

    public func waitForConverted(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [(messageID: String?, payload: ObjectConverted)] {
        _ = try await eventually(timeout: timeout) { await self.collected.converted.count >= count }
        return await collected.converted
    }

    public func extractedMessages() async -> [(messageID: String?, payload: MetadataExtracted)] { await collected.extracted }

    public func waitForExtracted(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [(messageID: String?, payload: MetadataExtracted)] {
        _ = try await eventually(timeout: timeout) { await self.collected.extracted.count >= count }
        return await collected.extracted
    }

    public func scoredMessages() async -> [(messageID: String?, payload: QCScored)] { await collected.scored }

    public func waitForScored(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [(messageID: String?, payload: QCScored)] {
        _ = try await eventually(timeout: timeout) { await self.collected.scored.count >= count }
        return await collected.scored
    }

    public func tearDown() async {
        if let doi { doi.terminate(); _ = await doi.status() }
        if let retention { retention.terminate(); _ = await retention.status() }
        if let qc { qc.terminate(); _ = await qc.status() }
        if let metadata { metadata.terminate(); _ = await metadata.status() }
        if let converter { converter.terminate(); _ = await converter.status() }
        if let service { service.terminate(); _ = await service.status() }
        observer.shutdown()
        _ = try? await observerTask?.value
        await broker.cleanUp(services: ["ingest", "converter", "metadata", "qc", "observer"])
        await database.drop()
        try? FileManager.default.removeItem(at: landing)
        try? FileManager.default.removeItem(at: derived)
    }

    // MARK: - Files

    @discardableResult
    public func write(_ relative: String, _ bytes: [UInt8]) throws -> URL {
        let url = landing.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return url
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0 ..< count).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
    }

    // MARK: - HTTP

    public struct Answer {
        public let status: Int
        public let body: [String: Any]
        public let text: String
    }

    public enum Method { case GET, POST }

    public func request(_ method: Method, _ path: String, body: [UInt8]? = nil, token: String? = "", headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method == .GET ? .GET : .POST
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token.isEmpty ? self.token : token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await Self.http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let text = String(buffer: bytes)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        return Answer(status: Int(response.status.code), body: json, text: text)
    }

    public func post(_ fields: [String: Any], token: String? = "") async throws -> Answer {
        try await request(.POST, "/v1/acquisitions", body: Array(try JSONSerialization.data(withJSONObject: fields)), token: token)
    }

    /// Waits until the acquisition leaves `pending`; returns its view.
    public func settled(_ id: String, timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let last = try await request(.GET, "/v1/acquisitions/\(id)").body
            if let state = last["state"] as? String, state != "pending" { return last }
            if ContinuousClock.now >= deadline { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: - Catalog and messages

    /// The rows of a query as JSON objects (column name → value), through the test's database.
    public func rows(_ sql: String) async throws -> [[String: Any]] {
        let text = try await database.withClient { client in
            for try await text in try await client.query(PostgresQuery(unsafeSQL: "SELECT COALESCE(json_agg(x), '[]')::text FROM (\(sql)) x")).decode(String.self) {
                return text
            }
            return "[]"
        }
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }

    public func count(_ sql: String) async throws -> Int {
        try await database.withClient { client in
            for try await n in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return n }
            return -1
        }
    }

    public func registeredMessages() async -> [(messageID: String?, payload: ObjectRegistered)] { await collected.messages }

    public func waitForMessages(_ count: Int, timeout: Duration = .seconds(30)) async throws -> [(messageID: String?, payload: ObjectRegistered)] {
        _ = try await eventually(timeout: timeout) { await self.collected.messages.count >= count }
        return await collected.messages
    }
}

private actor Collected {
    var messages: [(messageID: String?, payload: ObjectRegistered)] = []
    var converted: [(messageID: String?, payload: ObjectConverted)] = []
    var extracted: [(messageID: String?, payload: MetadataExtracted)] = []
    var scored: [(messageID: String?, payload: QCScored)] = []
    func add(_ delivery: AMQPDelivery) {
        if delivery.properties.type == RoutingKey.qcScored.rawValue {
            if let payload = try? MessageCodec.decode(QCScored.self, from: delivery.body, amqpType: delivery.properties.type) {
                scored.append((delivery.properties.messageID, payload))
            }
        } else if delivery.properties.type == RoutingKey.metadataExtracted.rawValue {
            if let payload = try? MessageCodec.decode(MetadataExtracted.self, from: delivery.body, amqpType: delivery.properties.type) {
                extracted.append((delivery.properties.messageID, payload))
            }
        } else if delivery.properties.type == RoutingKey.objectConverted.rawValue {
            if let payload = try? MessageCodec.decode(ObjectConverted.self, from: delivery.body, amqpType: delivery.properties.type) {
                converted.append((delivery.properties.messageID, payload))
            }
        } else if let payload = try? MessageCodec.decode(ObjectRegistered.self, from: delivery.body, amqpType: delivery.properties.type) {
            messages.append((delivery.properties.messageID, payload))
        }
    }
}

/// SHA-256 in the iRODS form computed by Python's hashlib: an implementation independent of ours.
public func independentChecksum(_ url: URL) async throws -> String {
    let result = try await TestEnvironment.run(TestEnvironment.python, ["-c", """
        import base64, hashlib, sys
        h = hashlib.sha256()
        with open(sys.argv[1], 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
        print('sha2:' + base64.b64encode(h.digest()).decode())
        """, url.path])
    guard result.status == 0 else { throw TestSetupError("python hashlib failed: \(result.output)") }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
}
