import FairwayAMQP
import FairwayContracts
import FairwayTestSupport
import Foundation
import PostgresNIO
import Testing

/// fairway-ingest, -converter, -metadata and -qc as processes against the real PostgreSQL and
/// RabbitMQ: images are scored (qc_results, qc_scores, qc tags, state scored, qc.scored) with
/// the operator's settings, a file whose pixels are corrupt is recorded as failed while the
/// service goes on, and scoring again keeps the scores of other method versions.
@Suite struct QCPipelineTests {

    /// What `fairway-qc score` says of a file, as the service's scores are checked against it.
    func score(_ path: String, _ extra: [String] = []) async throws -> [String: Any] {
        let result = try await TestEnvironment.run(try TestEnvironment.executable("fairway-qc"), ["score", "--json", path] + extra)
        try #require(result.status == 0, "\(result.output)")
        return try JSONSerialization.jsonObject(with: Data((result.output.split(separator: "\n").last ?? "").utf8)) as? [String: Any] ?? [:]
    }

    @Test func imagesAreScoredTaggedAndFailuresRecorded() async throws {
        try await IngestHarness.with { harness in
            try await harness.startConverter()
            try await harness.startMetadata()
            try await harness.startQC()
            let cases = try TestEnvironment.temporaryFolder("qc-cases")
            defer { try? FileManager.default.removeItem(at: cases) }
            let made = try await TestEnvironment.pythonJSON("make_qc_cases.py", [cases.path])
            try #require(made.status == 0, "\(made.output)")
            let truth = try #require(made.json as? [String: [String: Any]])

            // The 12-bit camera's investigation says so; the other keeps the defaults.
            try await harness.database.withClient { client in
                _ = try await client.query("SELECT fairway_assay('camera12', 'saturation', 'run-1', NULL)").collect()
            }
            let set = try await harness.cliResult(["qc", "settings", "--investigation", "camera12", "--significant-bits", "12"])
            #expect(set.status == 0 && set.output.contains("12-bit detector"), "\(set.output)")

            // The corrupt file first: the service must go on to the others after it.
            try harness.write("bad/corrupt_pixels.ome.tif", Array(try Data(contentsOf: cases.appendingPathComponent("corrupt_pixels.ome.tif"))))
            let bad = try await harness.post(["zone": harness.zone, "path": "bad", "investigation": "lab", "study": "qc", "assay": "bad"])
            #expect(bad.status == 202, "\(bad.text)")
            #expect(try await eventually(timeout: .seconds(60)) {
                try await harness.count("SELECT count(*)::int FROM qc_results WHERE status = 'failed'") == 1
            }, "\(harness.qc?.output.suffix(3000) ?? "")")

            try harness.write("cam/saturated_12bit.tif", Array(try Data(contentsOf: cases.appendingPathComponent("saturated_12bit.tif"))))
            for name in ["zstack_u8.tif", "poisson_patches.tif"] {
                try harness.write("good/\(name)", Array(try Data(contentsOf: cases.appendingPathComponent(name))))
            }
            #expect(try await harness.post(["zone": harness.zone, "path": "cam", "investigation": "camera12", "study": "saturation", "assay": "run-1"]).status == 202)
            #expect(try await harness.post(["zone": harness.zone, "path": "good", "investigation": "lab", "study": "qc", "assay": "good"]).status == 202)
            // A flat field, marked so by its acquisition's sidecar: its uniformity is scored.
            try harness.write("flat/flat_field.tif", Array(try Data(contentsOf: cases.appendingPathComponent("flat_field.tif"))))
            try harness.write("flat/fairway.yaml", Array("calibration: flat-field\n".utf8))
            #expect(try await harness.post(["zone": harness.zone, "path": "flat", "investigation": "lab", "study": "qc", "assay": "flat"]).status == 202)
            let scored = try await harness.waitForScored(4, timeout: .seconds(120))
            #expect(scored.count == 4, "\(harness.qc?.output.suffix(3000) ?? "")")

            // The documented metrics (README, Observability), as each service's /metrics gives them.
            func value(_ text: String, _ series: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            let ingestMetrics = try await harness.metrics(of: "ingest")
            #expect(value(ingestMetrics, "fairway_ingest_files_registered_total") == 6, "five images and the flat field's fairway.yaml: \(ingestMetrics.prefix(3000))")
            #expect((value(ingestMetrics, "fairway_ingest_bytes_checksummed_total") ?? 0) > 0)
            #expect(value(ingestMetrics, #"fairway_messages_published_total{key="object.registered",producer="ingest"}"#) == 6, "\(ingestMetrics.prefix(3000))")
            let converterMetrics = try await harness.metrics(of: "converter")
            #expect(value(converterMetrics, #"fairway_messages_consumed_total{key="object.registered",outcome="ok"}"#) == 6, "\(converterMetrics.prefix(3000))")
            #expect((value(converterMetrics, "fairway_converter_bytes_read_total") ?? 0) > 0 && (value(converterMetrics, "fairway_converter_bytes_written_total") ?? 0) > 0)
            #expect(converterMetrics.contains(#"fairway_message_processing_seconds_bucket{key="object.registered""#))
            let qcMetrics = try await harness.metrics(of: "qc")
            #expect((value(qcMetrics, #"fairway_qc_images_total{verdict="not-scored"}"#) ?? 0) == 1, "\(qcMetrics.prefix(3000))")
            #expect((value(qcMetrics, "fairway_qc_bytes_scored_total") ?? 0) > 0)
            #expect(qcMetrics.contains("fairway_outbox_backlog{producer=\"qc\"} 0") || qcMetrics.contains("fairway_outbox_backlog{producer=\"qc\"}"), "\(qcMetrics.prefix(3000))")
            // The database pool, as the server sees this process's named connections.
            #expect(value(qcMetrics, "fairway_db_pool_max_connections") == 16)
            #expect((value(qcMetrics, #"fairway_db_connections{state="active"}"#) ?? 0) >= 1
                    && (value(qcMetrics, #"fairway_db_connections{state="idle"}"#) ?? -1) >= 0, "\(qcMetrics.prefix(3000))")

            // The corrupt file: described, then failed by QC with the decoder's reason; no qc.scored.
            let failed = try #require(try await harness.rows("""
                SELECT o.state, o.failure_reason, q.error, q.method_version FROM objects o JOIN qc_results q ON q.object_id = o.id
                WHERE o.logical_path LIKE '%corrupt_pixels.ome.tif'
                """).first)
            #expect(failed["state"] as? String == "failed")
            #expect((failed["failure_reason"] as? String)?.hasPrefix("qc: ") == true)
            #expect((failed["error"] as? String)?.contains("cannot be decoded") == true, "\(failed)")
            #expect(harness.qc?.isRunning == true, "the service keeps running")

            // Each scored image of record: its scores are what `fairway-qc score` says of the same file.
            let images = try await harness.rows("""
                SELECT o.id, o.state, o.logical_path, r.physical_path, q.verdict, q.reasons, q.method_version,
                       (SELECT json_agg(a.value ORDER BY a.value) FROM annotations a
                        WHERE a.object_id = o.id AND a.namespace = 'fairway/machine-tags' AND a.key = 'qc') AS tags,
                       (SELECT json_object_agg(s.metric, s.value) FROM qc_scores s
                        WHERE s.object_id = o.id AND s.method_version = 1 AND s.channel = 0 AND s.plane IS NULL) AS scores,
                       (SELECT count(*) FROM qc_scores s WHERE s.object_id = o.id AND s.metric = 'focus' AND s.plane IS NOT NULL) AS planes
                FROM objects o JOIN qc_results q ON q.object_id = o.id AND q.status = 'scored'
                JOIN replicas r ON r.object_id = o.id AND r.status = 'good'
                ORDER BY o.logical_path
                """)
            #expect(images.count == 4)
            for image in images {
                let name = image["logical_path"] as? String ?? ""
                #expect(image["state"] as? String == "scored", "\(name)")
                let bits = name.contains("saturated") ? ["--significant-bits", "12"] : name.contains("flat_field") ? ["--flat-field"] : []
                let expected = try await score(image["physical_path"] as? String ?? "", bits)
                #expect(image["verdict"] as? String == expected["verdict"] as? String, "\(name)")
                #expect(image["reasons"] as? [String] == expected["reasons"] as? [String], "\(name)")
                let channel = (expected["channels"] as? [[String: Any]])?.first ?? [:]
                let stored = image["scores"] as? [String: Double] ?? [:]
                for metric in ["saturationFraction", "zeroFraction", "snr", "background", "noiseSigma", "focus", "dynamicRangeUsage", "uniformity"] {
                    #expect(stored[metric] == channel[metric] as? Double, "\(name) \(metric): stored \(stored[metric] ?? .nan), score says \(channel[metric] ?? "nil")")
                }
                let message = scored.first { $0.payload.objectID.uuidString.lowercased() == (image["id"] as? String)?.lowercased() }
                #expect(message?.payload.verdict.rawValue == image["verdict"] as? String, "\(name): qc.scored carries the verdict")
                #expect((image["tags"] as? [String])?.contains(image["verdict"] as? String ?? "") == true, "\(name)")
            }
            let saturated = try #require(images.first { ($0["logical_path"] as? String)?.contains("saturated") == true })
            #expect((saturated["scores"] as? [String: Double])?["saturationFraction"] == truth["saturated_12bit.tif"]?["saturated_fraction"] as? Double,
                    "the investigation's 12 bits were used")
            #expect(saturated["verdict"] as? String == "fail")
            #expect((saturated["tags"] as? [String]) == ["fail", "saturated"])
            let stack = try #require(images.first { ($0["logical_path"] as? String)?.contains("zstack") == true })
            #expect((stack["scores"] as? [String: Double])?["bestFocusPlane"] == Double(truth["zstack_u8.tif"]?["sharpest_plane"] as? Int ?? -1))
            #expect(stack["planes"] as? Int == 12, "focus per Z plane")
            let flat = try #require(images.first { ($0["logical_path"] as? String)?.contains("flat_field") == true })
            let uniformity = try #require((flat["scores"] as? [String: Double])?["uniformity"])
            #expect(abs(uniformity - (truth["flat_field.tif"]?["uniformity"] as? Double ?? 0)) < 1.5)
            #expect((flat["tags"] as? [String])?.contains("non-uniform") == true)
            #expect(images.filter { ($0["scores"] as? [String: Double])?["uniformity"] != nil }.count == 1, "only the flat field")

            // The catalog finds objects by their QC tags.
            let found = try await harness.request(.GET, "/v1/search?tag=qc:saturated")
            let paths = (found.body["objects"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(paths.count == 1 && paths.first?.contains("saturated_12bit") == true, "\(found.text)")

            // The registered file's view carries the verdict and metrics of its image of record.
            let source = try #require(try await harness.rows("SELECT parent_id AS id FROM objects WHERE id = '\(saturated["id"] as? String ?? "")'").first?["id"] as? String)
            let view = try await harness.request(.GET, "/v1/objects/\(source)")
            let quality = view.body["quality"] as? [String: Any] ?? [:]
            #expect(quality["verdict"] as? String == "fail" && quality["methodVersion"] as? Int == 1, "\(view.status) \(view.text)")
            #expect((quality["object"] as? String)?.lowercased() == (saturated["id"] as? String)?.lowercased())
            #expect(view.body["state"] as? String == "scored", "the registered file went as far as its image")
            let sourceShown = try await harness.cliResult(["qc", "show", source])
            #expect(sourceShown.status == 0 && sourceShown.output.contains("method 1: FAIL"), "\(sourceShown.output)")
            #expect(((quality["channels"] as? [[String: Any]])?.first?["saturationLevel"] as? Double) == 4095)

            // Scoring again (a new release would carry a new method version): scores of other
            // versions stay, this version's are replaced, not duplicated.
            let patches = try #require(images.first { ($0["logical_path"] as? String)?.contains("poisson") == true })
            let id = try #require(patches["id"] as? String)
            try await harness.database.withClient { client in
                _ = try await client.query(PostgresQuery(unsafeSQL: """
                    INSERT INTO qc_results (object_id, method_version, status, verdict, reasons) VALUES ('\(id)', 7, 'scored', 'warn', '{"kept"}');
                    """)).collect()
                _ = try await client.query(PostgresQuery(unsafeSQL: """
                    INSERT INTO qc_scores (object_id, method_version, metric, channel, value) VALUES ('\(id)', 7, 'snr', 0, 1.5)
                    """)).collect()
            }
            let before = try await harness.count("SELECT count(*)::int FROM qc_scores WHERE object_id = '\(id)' AND method_version = 1")
            let publisher = harness.broker.publisher(service: "rescore", keys: [])
            try await publisher.whileRunning {
                let body = MessageCodec.encode(MetadataExtracted(objectID: UUID(uuidString: id)!, complete: true, missingFields: []))
                let results = await publisher.publish([harness.broker.message(body, key: RoutingKey.metadataExtracted.rawValue)])
                #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
            }
            _ = try await harness.waitForScored(5, timeout: .seconds(60))
            #expect(try await harness.count("SELECT count(*)::int FROM qc_scores WHERE object_id = '\(id)' AND method_version = 1") == before)
            #expect(try await harness.count("SELECT count(*)::int FROM qc_scores WHERE object_id = '\(id)' AND method_version = 7 AND value = 1.5") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM qc_results WHERE object_id = '\(id)'") == 2)

            // The CLI shows both.
            let shown = try await harness.cliResult(["qc", "show", id])
            #expect(shown.status == 0 && shown.output.contains("method 1:") && shown.output.contains("method 7: WARN"), "\(shown.output)")
        }
    }
}
