import FairwayServiceKit
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

    @Test("with OTEL_EXPORTER_OTLP_ENDPOINT set, the services export their spans over OTLP/HTTP: read by opentelemetry-proto, one trace from the caller's span through ingest, converter, metadata and QC, each hop the parent of the next and the span its messages name",
          .enabled(if: SpanExport.isBuiltIn, "this build leaves the span exporter out (FAIRWAY_WITHOUT_OTLP=1, as Tests/sanitize builds)"))
    func spansExportedOverOTLP() async throws {
        let scratch = try TestEnvironment.temporaryFolder("otlp")
        let received = scratch.appendingPathComponent("spans.jsonl")
        let receiver = try ChildProcess(TestEnvironment.python, [TestEnvironment.supportScript("otlp_receiver.py").path, received.path])
        defer { receiver.terminate() }
        @Sendable func receiverPort() -> String? { receiver.output.split(separator: "\n").first { $0.hasPrefix("port ") }.map { String($0.dropFirst(5)) } }
        _ = try await eventually(timeout: .seconds(20)) { receiverPort() != nil }
        let export = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(try #require(receiverPort(), "\(receiver.output)"))",
                      "OTEL_BSP_SCHEDULE_DELAY": "200"]

        try await IngestHarness.with(started: false) { harness in
            try await harness.start(environment: export)
            try await harness.startConverter(export)
            try await harness.startMetadata(export)
            try await harness.startQC(export)
            let cases = try TestEnvironment.temporaryFolder("otlp-cases")
            let made = try await TestEnvironment.pythonJSON("make_qc_cases.py", [cases.path])
            try #require(made.status == 0, "\(made.output)")
            try harness.write("traced/zstack_u8.tif", Array(try Data(contentsOf: cases.appendingPathComponent("zstack_u8.tif"))))

            let traceID = "0af7651916cd43dd8448eb211c80319c", callerSpan = "b7ad6b7169203331"
            let posted = try await harness.request(.POST, "/v1/acquisitions", body: Array(try JSONSerialization.data(withJSONObject: [
                "zone": harness.zone, "path": "traced", "investigation": "NUC", "study": "t", "assay": "a",
            ])), headers: [("traceparent", "00-\(traceID)-\(callerSpan)-01")])
            #expect(posted.status == 202, "\(posted.text)")
            let acquisition = try #require(posted.body["id"] as? String)
            _ = try await harness.waitForScored(1, timeout: .seconds(120))
            let chain = try await harness.rows("""
                SELECT routing_key, split_part(traceparent, '-', 3) AS span FROM outbox WHERE correlation_id = '\(acquisition)' ORDER BY id
                """).map { (key: $0["routing_key"] as? String ?? "", span: $0["span"] as? String ?? "") }
            #expect(chain.map(\.key) == ["object.registered", "object.converted", "metadata.extracted", "qc.scored"], "\(chain)")

            // Every span a message names has reached the receiver (batches leave every 200 ms).
            @Sendable func spans() -> [[String: Any]] {
                ((try? String(contentsOf: received, encoding: .utf8)) ?? "").split(separator: "\n")
                    .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            }
            let arrived = try await eventually(timeout: .seconds(30), every: .milliseconds(200)) {
                let ids = Set(spans().compactMap { $0["span_id"] as? String })
                return chain.allSatisfy { ids.contains($0.span) }
            }
            let all = spans()
            #expect(arrived, "\(all.suffix(20))")
            #expect(all.allSatisfy { $0["refused"] == nil }, "the receiver refused an export: \(all.filter { $0["refused"] != nil })")
            let trace = all.filter { $0["trace_id"] as? String == traceID }
            func span(_ id: String) -> [String: Any]? { trace.first { $0["span_id"] as? String == id } }

            // The request: a server span of fairway-ingest under the caller's span.
            let request = try #require(trace.first { $0["name"] as? String == "POST /v1/acquisitions" }, "\(trace)")
            #expect(request["service"] as? String == "fairway-ingest" && request["kind"] as? String == "server")
            #expect(request["parent_span_id"] as? String == callerSpan)
            #expect(try await harness.count("""
                SELECT count(*)::int FROM acquisitions WHERE id = '\(acquisition)' AND traceparent = '00-\(traceID)-\(request["span_id"] as? String ?? "")-01'
                """) == 1, "the acquisition records the request's span")

            // object.registered comes from the registration, a child of the request.
            let registration = try #require(span(chain[0].span), "\(trace)")
            #expect(registration["name"] as? String == "register object" && registration["service"] as? String == "fairway-ingest")
            #expect(registration["parent_span_id"] as? String == request["span_id"] as? String)

            // Each later message comes from the consumer span of the message before it, in the service that consumed it.
            let producers = ["object.converted": "fairway-converter", "metadata.extracted": "fairway-metadata", "qc.scored": "fairway-qc"]
            for (cause, effect) in zip(chain, chain.dropFirst()) {
                let consumer = try #require(span(effect.span), "no span \(effect.span) for \(effect.key): \(trace)")
                #expect(consumer["name"] as? String == "process \(cause.key)", "\(consumer)")
                #expect(consumer["service"] as? String == producers[effect.key], "\(consumer)")
                #expect(consumer["kind"] as? String == "consumer")
                #expect(consumer["parent_span_id"] as? String == cause.span, "\(effect.key) should follow \(cause.key): \(consumer)")
                let attributes = consumer["attributes"] as? [String: Any] ?? [:]
                #expect(attributes["messaging.system"] as? String == "rabbitmq")
                #expect(attributes["messaging.message.conversation_id"] as? String == acquisition)
                #expect(attributes["messaging.rabbitmq.destination.routing_key"] as? String == cause.key)
                #expect((consumer["end_ns"] as? Int ?? 0) >= (consumer["start_ns"] as? Int ?? 1))
            }
        }
    }
}
