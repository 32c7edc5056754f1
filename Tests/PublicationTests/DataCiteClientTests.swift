import AsyncHTTPClient
import FairwayDataCite
import FairwayPublication
import FairwayTestSupport
import Foundation
import NIOCore
import Testing

/// The DataCite client against the stand-in (`Tests/Support/datacite_standin.py`), which follows
/// DataCite's documented answers; and the answer reader against hostile bodies.
@Suite("DataCite client", .serialized)
struct DataCiteClientTests {
    static func withStandIn(password: String = "secret", _ body: @Sendable (_ url: String) async throws -> Void) async throws {
        let standIn = try ChildProcess(TestEnvironment.python, [TestEnvironment.supportScript("datacite_standin.py").path, "fairway", password, "10.5072"])
        defer { standIn.terminate() }
        @Sendable func port() -> String? { standIn.output.split(separator: "\n").first { $0.hasPrefix("port ") }.map { String($0.dropFirst(5)) } }
        guard try await eventually(timeout: .seconds(20), { port() != nil }), let port = port() else {
            throw TestSetupError("the DataCite stand-in did not start: \(standIn.output)")
        }
        try await body("http://127.0.0.1:\(port)")
    }

    static func faults(_ url: String, _ faults: String) async throws {
        var request = HTTPClientRequest(url: "\(url)/_faults")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: #"{"faults": \#(faults)}"#))
        _ = try await IngestHarness.http.execute(request, timeout: .seconds(10))
    }

    static func record(_ doi: DOIName, event: String?) -> Data {
        let request = try! PublicationRequest.parse(json: Data(PublicationRecordTests.example.utf8))
        return DataCiteAttributes(doi: doi, event: event, landingPage: "https://data.facility.example/datasets/\(doi)", request: request,
                                  facts: PublicationRecordTests.facts).document
    }

    @Test("publish, update, hide, refused delete of a findable DOI, draft delete; 401, 403, 404, 422 per field")
    func states() async throws {
        try await Self.withStandIn { url in
            let client = DataCiteClient(baseURL: url, user: "fairway", password: "secret")
            let doi = DOIName(prefix: "10.5072", suffix: DOISuffix.random())
            guard case .stored(let created, created: true) = await client.put(doi, document: Self.record(doi, event: "publish")) else {
                Issue.record("publish did not create"); return
            }
            #expect(created.state == "findable" && created.url == "https://data.facility.example/datasets/\(doi)" && created.doi == doi.description)
            #expect(await client.put(doi, document: Self.record(doi, event: "publish")) == .stored(created, created: false))
            guard case .stored(let hidden, created: false) = await client.put(doi, document: Self.record(doi, event: "hide")) else {
                Issue.record("hide failed"); return
            }
            #expect(hidden.state == "registered")
            #expect(await client.get(doi) == .found(hidden))
            guard case .notAllowed = await client.delete(doi) else { Issue.record("a registered DOI must not be deleted"); return }

            let draft = DOIName(prefix: "10.5072", suffix: DOISuffix.random())
            guard case .stored(let drafted, created: true) = await client.put(draft, document: Self.record(draft, event: nil)) else { Issue.record("draft"); return }
            #expect(drafted.state == "draft")
            #expect(await client.delete(draft) == .deleted)
            #expect(await client.get(draft) == .notFound)

            guard case .unauthorized = await DataCiteClient(baseURL: url, user: "fairway", password: "wrong").get(doi) else { Issue.record("401"); return }
            guard case .unauthorized = await client.get(DOIName(prefix: "10.9999", suffix: DOISuffix.random())) else { Issue.record("403"); return }

            // Metadata DataCite refuses comes back per field.
            var broken = try JSONSerialization.jsonObject(with: Self.record(draft, event: "publish")) as! [String: Any]
            var data = broken["data"] as! [String: Any]
            var attributes = data["attributes"] as! [String: Any]
            attributes["publicationYear"] = "26"
            attributes.removeValue(forKey: "url")
            data["attributes"] = attributes
            broken["data"] = data
            guard case .invalid(let problems) = await client.put(draft, document: try JSONSerialization.data(withJSONObject: broken)) else {
                Issue.record("422"); return
            }
            #expect(Set(problems.map(\.field)) == ["url", "publicationYear"], "\(problems)")
        }
    }

    @Test("faults: 503, 429 with Retry-After, slow answers, and an accepted PUT whose answer never comes (then found by GET, once)")
    func faults() async throws {
        try await Self.withStandIn { url in
            let client = DataCiteClient(baseURL: url, user: "fairway", password: "secret", timeout: .seconds(2))
            let doi = DOIName(prefix: "10.5072", suffix: DOISuffix.random())
            try await Self.faults(url, #"[{"status": 503}, {"status": 429, "retryAfter": 7}, {"delay": 1}, {"acceptThenHang": 5}]"#)
            guard case .unavailable(status: 503, _) = await client.get(doi) else { Issue.record("503"); return }
            #expect(await client.get(doi) == .rateLimited(retryAfter: 7))
            #expect(await client.get(doi) == .notFound)   // slow but within the timeout
            #expect(await client.put(doi, document: Self.record(doi, event: "publish")) == .timedOut)
            guard case .found(let remote) = await client.get(doi) else { Issue.record("the accepted PUT must be found"); return }
            #expect(remote.state == "findable")
            var request = HTTPClientRequest(url: "\(url)/_dois")
            request.method = .GET
            let stored = try await IngestHarness.http.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 20)
            #expect((try JSONSerialization.jsonObject(with: Data(buffer: stored)) as? [String: Any])?.count == 1)
        }
    }

    @Test("hostile or unexpected answers are read without trusting them")
    func hostileAnswers() {
        func outcome(_ method: String, _ status: Int, _ body: String, retryAfter: String? = nil) -> DataCiteOutcome {
            DataCiteAnswer.outcome(method: method, status: status, body: Data(body.utf8), retryAfter: retryAfter)
        }
        for body in ["", "not json", "[]", #"{"data": 3}"#, #"{"data": {"attributes": {"doi": "10.5072/X", "state": "deleted"}}}"#,
                     String(repeating: "[", count: 100_000)] {
            guard case .failed = outcome("PUT", 201, body) else { Issue.record("accepted \(body.prefix(40))"); continue }
        }
        guard case .found(let found) = outcome("GET", 200, #"{"data": {"id": "10.5072/abcd", "attributes": {"state": "findable", "url": "https://x"}}}"#) else {
            Issue.record("a DOI document was not read"); return
        }
        #expect(found.doi == "10.5072/ABCD" && found.state == "findable" && found.url == "https://x")
        // Two records with the same descriptive metadata in another field order have one fingerprint.
        let a = Data(#"{"data": {"attributes": {"titles": [{"title": "T"}], "publicationYear": "2026", "url": "u1"}}}"#.utf8)
        let b = Data(#"{"data": {"attributes": {"url": "u2", "publicationYear": "2026", "titles": [{"title": "T"}]}}}"#.utf8)
        #expect(DataCiteAnswer.fingerprint(ofDocument: a) == DataCiteAnswer.fingerprint(ofDocument: b))
        #expect(DataCiteAnswer.fingerprint(ofDocument: a) != DataCiteAnswer.fingerprint(ofDocument: Data(#"{"data": {"attributes": {"titles": [{"title": "U"}]}}}"#.utf8)))
        #expect(outcome("PUT", 422, "") == .invalid([FieldProblem(field: "", message: "DataCite refused the metadata without saying why")]))
        #expect(outcome("PUT", 422, #"{"errors": [{"source": {"pointer": "/data/attributes/titles"}, "title": "can't be blank"}]}"#)
                == .invalid([FieldProblem(field: "/data/attributes/titles", message: "can't be blank")]))
        #expect(outcome("GET", 429, "", retryAfter: "99999") == .rateLimited(retryAfter: 3600))
        #expect(outcome("GET", 429, "", retryAfter: "soon") == .rateLimited(retryAfter: nil))
        #expect(outcome("GET", 429, "", retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT") == .rateLimited(retryAfter: 0))
        guard case .failed = outcome("GET", 418, "{}") else { Issue.record("418"); return }
    }
}
