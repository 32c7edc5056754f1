import AsyncHTTPClient
import FairwayPublication
import FairwayTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Secrets stay out of every log, and the HTTP endpoints refuse path tricks: all six services at
/// their most talkative (trace level), a pipeline run, a publication at the DataCite stand-in,
/// the operator's commands, and hostile requests.
@Suite("security: no secret in any log; path tricks refused", .serialized)
struct SecurityTests {
    /// Every password in the URLs the tests hand to services and commands.
    static func passwords() -> [String] {
        ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("FAIRWAY_") && $0.key.hasSuffix("_URL") }
            .compactMap { URLComponents(string: $0.value)?.password?.removingPercentEncoding }
            .filter { $0.count >= 8 }
    }

    static func status(_ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = []) async throws -> UInt {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        do {
            let response = try await DashboardClient.client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            return response.status.code
        } catch {
            return 0   // the server closed the connection: refused, not served
        }
    }

    enum DashboardClient {
        static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    }

    @Test("at trace level, through a pipeline run, a publication and the operator's commands, no log and no command output holds a token or a password")
    func noSecretInLogs() async throws {
        try await IngestHarness.with(started: false) { harness in
            let verbose = ["FAIRWAY_LOG_LEVEL": "trace"]
            try await harness.start(environment: verbose.merging(PublishFixture.settings) { $1 })
            try await harness.startConverter(verbose)
            try await harness.startMetadata(verbose)
            try await harness.startQC(verbose)
            try await harness.startRetention(verbose)
            let dataCitePassword = "dc-" + UUID().uuidString.lowercased()
            try await DataCiteClientTests.withStandIn(password: dataCitePassword) { url in
                let environment = Registration.environment(url, password: dataCitePassword)
                try await harness.startDOI(environment.merging(verbose) { $1 })
                try await PublishFixture.registerStudy(harness, fileBytes: 3000)
                // A refused post carries the token in its header too.
                _ = try await harness.post(["zone": harness.zone, "path": "../etc/passwd"])
                _ = try await harness.request(.GET, "/v1/objects", token: "fwt_not-a-token-" + UUID().uuidString)
                let doi = try await InteropTests.publish(harness, environment, investigation: "NUC", study: "hela")
                try await Registration.settle(harness, doi, state: "findable")
                let operatorToken = try await harness.cli("token", "create", "--operator", "--label", "audit")
                    .split(separator: "\n").first { $0.hasPrefix("fwt_") }.map(String.init) ?? ""
                #expect(operatorToken.hasPrefix("fwt_"))
                var outputs: [(String, String)] = []
                for arguments in [["status", "--json"], ["token", "list", "--json"], ["dlq", "list", "--json"], ["publication", "list", "--json"],
                                  ["fixity", "check", "--all", "--json"]] {
                    outputs.append((arguments.joined(separator: " "), try await harness.cliResult(arguments, environment: environment.merging(verbose) { $1 }).output))
                }
                outputs += [("ingest", harness.serviceLog), ("converter", harness.converter?.output ?? ""), ("metadata", harness.metadata?.output ?? ""),
                            ("qc", harness.qc?.output ?? ""), ("retention", harness.retention?.output ?? ""), ("doi", harness.doi?.output ?? "")]
                #expect(outputs.allSatisfy { !$0.1.isEmpty } && outputs.map(\.1.count).reduce(0, +) > 20_000, "the logs were written")
                let secrets = [("watcher token", harness.token), ("operator token", operatorToken), ("DataCite password", dataCitePassword)]
                    + Self.passwords().map { ("a password of the test URLs", $0) }
                #expect(secrets.count >= 5)
                for (source, text) in outputs {
                    for (name, secret) in secrets {
                        #expect(!text.contains(secret), "\(name) in the output of \(source)")
                    }
                }
            }
        }
    }

    @Test("encoded '..', NUL bytes, overlong UTF-8 and oversized headers are refused by every HTTP endpoint, and the services go on")
    func pathTricks() async throws {
        try await IngestHarness.with { harness in
            try await harness.startDOI(PublishFixture.settings.merging(["FAIRWAY_OAI_ADMIN_EMAIL": "datasets@facility.example"]) { $1 })
            let ingest = "http://127.0.0.1:\(harness.port)", doi = "http://127.0.0.1:\(harness.doiPort)"
            let auth = [("Authorization", "Bearer \(harness.token)")]
            for path in ["/v1/objects/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/v1/objects/..%2F..%2Fetc", "/v1/objects/%00", "/v1/objects/%c0%ae%c0%ae",
                         "/v1/objects/00000000-0000-0000-0000-000000000000%00/content", "/v1/acquisitions/%2e%2e",
                         "/v1/publications/..%2F..%2F/etc", "/v1/publications/10.5072/%00"] {
                let code = try await Self.status(ingest + path, headers: auth)
                #expect(code == 0 || (400..<500).contains(code), "\(path): \(code)")
            }
            for path in ["/datasets/%2e%2e/%2e%2e", "/datasets/10.5072/%00", "/datasets/%c0%ae%c0%ae/x", "/datasets/10.5072/..%2F..%2Fetc/withdrawn"] {
                let code = try await Self.status(doi + path)
                #expect(code == 0 || (400..<500).contains(code), "\(path): \(code)")
            }
            #expect(try await Self.status(ingest + "/ui/objects/%2e%2e/replay", method: .POST) == 401, "no login: refused before anything else")
            // A header far over any sensible size.
            let huge = [("X-Padding", String(repeating: "a", count: 200_000))]
            let hugeCode = try await Self.status(ingest + "/v1/objects", headers: auth + huge)
            #expect(hugeCode == 0 || (400..<500).contains(hugeCode), "\(hugeCode)")
            // Both services still answer.
            let ingestReady = try await Self.status(ingest + "/readyz"), doiReady = try await Self.status(doi + "/readyz")
            #expect(ingestReady == 200 && doiReady == 200)
            #expect(harness.service?.isRunning == true && harness.doi?.isRunning == true)
        }
    }
}
