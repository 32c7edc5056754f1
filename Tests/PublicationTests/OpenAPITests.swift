import FairwayTestSupport
import Foundation
import Testing

/// `openapi.yaml` (fairway-ingest) and `openapi-doi.yaml` (fairway-doi) kept true: valid specs,
/// the same routes as the code registers, and schemathesis finding nothing against the running
/// services (no server error, statuses, content types, bodies and headers as documented).
@Suite("the OpenAPI descriptions, checked against the code and the running services", .serialized)
struct OpenAPITests {
    static let specs = ["openapi.yaml", "openapi-doi.yaml"]

    static func check(_ arguments: [String]) async throws -> (status: Int32, output: String, json: [String: Any]) {
        let result = try await TestEnvironment.pythonJSON("check_openapi.py", arguments)
        return (result.status, result.output, result.json as? [String: Any] ?? [:])
    }

    static func spec(_ name: String) -> String { TestEnvironment.repositoryRoot.appendingPathComponent(name).path }

    /// The routes a service's sources register: `router.get("/path")`, in Hummingbird's form.
    static func registeredRoutes(in folders: [String]) throws -> Set<String> {
        var routes = Set<String>()
        let pattern = try NSRegularExpression(pattern: #"router\.(get|post|put|delete|patch)\("([^"]+)""#)
        for folder in folders {
            let url = TestEnvironment.repositoryRoot.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path) where name.hasSuffix(".swift") {
                let text = try String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
                for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    let method = String(text[Range(match.range(at: 1), in: text)!]).uppercased()
                    routes.insert("\(method) \(text[Range(match.range(at: 2), in: text)!])")
                }
            }
        }
        return routes
    }

    @Test("both specs are valid OpenAPI and list exactly the routes the services register (the HTML dashboard aside)")
    func specsMatchTheCode() async throws {
        let validated = try await Self.check(["validate"] + Self.specs.map(Self.spec))
        #expect(validated.status == 0 && validated.json["ok"] as? Bool == true, "\(validated.output.suffix(3000))")
        let operations = try Self.registeredRoutes(in: ["Shared/ServiceKit"])
        for (spec, folder) in [("openapi.yaml", "Services/Ingest"), ("openapi-doi.yaml", "Services/DOI")] {
            let listed = try await Self.check(["routes", Self.spec(spec)])
            let documented = Set((listed.json["routes"] as? [[String: Any]] ?? []).compactMap { route -> String? in
                guard let method = route["method"] as? String, let path = route["router"] as? String else { return nil }
                return "\(method.uppercased()) \(path)"
            })
            let code = try Self.registeredRoutes(in: [folder]).union(operations).filter { !$0.contains(" /ui") }
            #expect(!code.isEmpty && documented == code, "\(spec): only in the code \(code.subtracting(documented).sorted()); only in the spec \(documented.subtracting(code).sorted())")
        }
    }

    @Test("schemathesis against fairway-ingest (with a watcher token and publishing configured) and fairway-doi (OAI-PMH on) finds no failure")
    func schemathesis() async throws {
        try await IngestHarness.with(started: false) { harness in
            try await harness.start(environment: PublishFixture.settings)
            try await PublishFixture.registerStudy(harness, fileBytes: 2000)
            try await harness.startDOI(PublishFixture.settings.merging(["FAIRWAY_OAI_ADMIN_EMAIL": "datasets@facility.example"]) { $1 })
            let ingest = try await Self.check(["fuzz", Self.spec("openapi.yaml"), "http://127.0.0.1:\(harness.port)", "--token", harness.token,
                                               "--max-examples", "40", "--seed", "1"])
            #expect(ingest.status == 0 && ingest.json["ok"] as? Bool == true && ingest.json["operations"] as? Int == 11,
                    "\((ingest.json["failures"] as? [[String: Any]] ?? []).prefix(5)) \(ingest.output.suffix(2000))")
            let doi = try await Self.check(["fuzz", Self.spec("openapi-doi.yaml"), "http://127.0.0.1:\(harness.doiPort)", "--max-examples", "40", "--seed", "1"])
            #expect(doi.status == 0 && doi.json["ok"] as? Bool == true && doi.json["operations"] as? Int == 7,
                    "\((doi.json["failures"] as? [[String: Any]] ?? []).prefix(5)) \(doi.output.suffix(2000))")
            #expect(harness.service?.isRunning == true && harness.doi?.isRunning == true)
        }
    }
}
