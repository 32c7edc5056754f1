import FairwayTestSupport
import Foundation
import Testing

/// One acquisition followed across the services: the `traceparent` it was posted with is continued
/// (same trace id, a new span per hop) by every message its processing emits, and the services'
/// log lines about it carry its trace and correlation ids.
@Suite("trace context across HTTP and AMQP hops", .serialized)
struct TraceContextTests {
    @Test("a traceparent posted with an acquisition reaches object.registered, object.converted, metadata.extracted and qc.scored, each a new span; log lines name the trace; a malformed header starts a new trace")
    func followedAcrossServices() async throws {
        try await IngestHarness.with { harness in
            try await harness.startConverter()
            try await harness.startMetadata()
            try await harness.startQC()
            let cases = try TestEnvironment.temporaryFolder("trace-cases")
            let made = try await TestEnvironment.pythonJSON("make_qc_cases.py", [cases.path])
            try #require(made.status == 0, "\(made.output)")
            try harness.write("traced/zstack_u8.tif", Array(try Data(contentsOf: cases.appendingPathComponent("zstack_u8.tif"))))
            try harness.write("untraced/zstack_u8.tif", Array(try Data(contentsOf: cases.appendingPathComponent("zstack_u8.tif"))))

            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736", callerSpan = "00f067aa0ba902b7"
            let body = { (path: String) in Array(try! JSONSerialization.data(withJSONObject: ["zone": harness.zone, "path": path, "investigation": "NUC", "study": "t", "assay": "a"])) }
            let traced = try await harness.request(.POST, "/v1/acquisitions", body: body("traced"), headers: [("traceparent", "00-\(traceID)-\(callerSpan)-01")])
            #expect(traced.status == 202, "\(traced.text)")
            let untraced = try await harness.request(.POST, "/v1/acquisitions", body: body("untraced"), headers: [("traceparent", "00-\(String(repeating: "0", count: 32))-\(callerSpan)-01")])
            #expect(untraced.status == 202, "a bad header is no reason to refuse: \(untraced.text)")
            _ = try await harness.waitForScored(2, timeout: .seconds(120))
            let acquisition = try #require(traced.body["id"] as? String)

            // The outbox of every service: each message of the chain in the caller's trace, each a span of its own.
            let rows = try await harness.rows("""
                SELECT routing_key, traceparent, correlation_id FROM outbox WHERE correlation_id = '\(acquisition)' ORDER BY id
                """)
            #expect(rows.map { $0["routing_key"] as? String } == ["object.registered", "object.converted", "metadata.extracted", "qc.scored"], "\(rows)")
            let parents = rows.compactMap { $0["traceparent"] as? String }
            #expect(parents.count == 4 && parents.allSatisfy { $0.hasPrefix("00-\(traceID)-") && $0.hasSuffix("-01") }, "\(parents)")
            let spans = parents.map { $0.split(separator: "-")[2] }
            #expect(Set(spans).count == 4 && !spans.contains(Substring(callerSpan)), "\(spans)")
            #expect(try await harness.count("SELECT count(*)::int FROM acquisitions WHERE id = '\(acquisition)' AND traceparent LIKE '00-\(traceID)-%'") == 1)

            // The other acquisition got a trace of its own.
            let other = try await harness.rows("""
                SELECT DISTINCT split_part(o.traceparent, '-', 2) AS trace FROM outbox o JOIN acquisitions a ON a.id::text = o.correlation_id
                WHERE a.path = 'untraced'
                """)
            #expect(other.count == 1 && (other.first?["trace"] as? String)?.count == 32 && other.first?["trace"] as? String != traceID, "\(other)")

            // The converter's log lines about it name its trace and acquisition.
            let lines = (harness.converter?.output ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let converted = lines.first { $0["message"] as? String == "converted" && $0["trace_id"] as? String == traceID }
            #expect(converted?["correlation_id"] as? String == acquisition && converted?["key"] as? String == "object.registered",
                    "\(lines.suffix(10))")
        }
    }
}
