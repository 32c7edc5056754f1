import FairwayAMQP
import FairwayContracts
import FairwayTestSupport
import Foundation
import PostgresNIO
import Testing

/// fairway-ingest and fairway-converter running as processes against the real PostgreSQL and
/// RabbitMQ: registered TIFFs become derived OME-TIFFs in the derived resource, OME-TIFF stays in
/// place, and bad or unsupported files are recorded with their reason while the service goes on.
@Suite struct ConverterPipelineTests {
    let python = TestEnvironment.python

    /// The generated cases, copied into the landing zone under `folder`.
    func stage(_ names: [String], into harness: IngestHarness, folder: String) async throws {
        let cases = try TestEnvironment.temporaryFolder("cases")
        defer { try? FileManager.default.removeItem(at: cases) }
        let made = try await TestEnvironment.run(python, [TestEnvironment.supportScript("make_convert_cases.py").path, cases.path])
        try #require(made.status == 0, "\(made.output)")
        for name in names {
            try harness.write("\(folder)/\(name)", Array(try Data(contentsOf: cases.appendingPathComponent(name))))
        }
    }

    func row(_ harness: IngestHarness, _ sql: String) async throws -> [String: Any] {
        let text = try await harness.database.withClient { client in
            for try await text in try await client.query(PostgresQuery(unsafeSQL: "SELECT row_to_json(x)::text FROM (\(sql)) x")).decode(String.self) {
                return text
            }
            return "{}"
        }
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    @Test func registeredImagesBecomeOMETIFFsOfRecord() async throws {
        try await IngestHarness.with { harness in
            try await harness.startConverter()
            try await stage(["plain_u16.tif", "hyperstack_imagej.tif", "already.ome.tif", "wide_untiled.ome.tif", "truncated.tif", "not_a_tiff.tif"],
                            into: harness, folder: "lab/screen/plate-1")
            try harness.write("lab/screen/plate-1/scan.czi", Array("ZISRAWFILE".utf8) + [UInt8](repeating: 1, count: 512))
            let posted = try await harness.post(["zone": harness.zone, "path": "lab/screen/plate-1"])
            #expect(posted.status == 202, "\(posted.text)")
            _ = try await harness.waitForMessages(7)
            let converted = try await harness.waitForConverted(4)
            #expect(converted.count == 4, "\(converted.map(\.payload))")

            // Three derived OME-TIFFs (the TIFF, the hyperstack, and a pyramidal copy of the large untiled
            // OME-TIFF), each a registered object with its parent, replica and provenance.
            let derived = converted.map(\.payload).filter { $0.inPlace == false }
            #expect(derived.count == 3)
            for message in derived {
                #expect(message.resource == "derived" && message.physicalPath.hasPrefix(harness.derived.path) && message.format == "ome-tiff")
                #expect(try await independentChecksum(URL(fileURLWithPath: message.physicalPath)) == message.checksum)
                let object = try await row(harness, """
                    SELECT o.parent_id, o.state, o.format, o.logical_path, o.checksum, o.size_bytes, r.physical_path, r.status, res.role,
                           p.logical_path AS parent_path, p.state AS parent_state,
                           (SELECT physical_path FROM replicas WHERE object_id = p.id) AS parent_physical,
                           (SELECT json_object_agg(key, value) FROM annotations a WHERE a.object_id = o.id AND a.namespace = 'fairway/converter/provenance') AS provenance
                    FROM objects o JOIN replicas r ON r.object_id = o.id JOIN resources res ON res.id = r.resource_id
                    JOIN objects p ON p.id = o.parent_id
                    WHERE o.id = '\(message.objectID)'
                    """)
                #expect(object["parent_id"] as? String == message.sourceObjectID.uuidString.lowercased())
                #expect(object["state"] as? String == "converted" && object["parent_state"] as? String == "converted")
                #expect(object["role"] as? String == "derived" && object["status"] as? String == "good")
                #expect(object["checksum"] as? String == message.checksum)
                #expect(object["physical_path"] as? String == message.physicalPath)
                #expect((object["logical_path"] as? String) == (object["parent_path"] as? String).map { $0 + ".ome.tif" })
                let provenance = object["provenance"] as? [String: String] ?? [:]
                #expect(provenance["source_object"] == message.sourceObjectID.uuidString.lowercased())
                #expect(provenance["source_sha2"]?.hasPrefix("sha2:") == true && provenance["converter"] != nil)
                // Read back by tifffile and ome-types against the source in the landing zone.
                let source = try #require(object["parent_physical"] as? String)
                let checked = try await TestEnvironment.run(python, [TestEnvironment.supportScript("check_ome_tiff.py").path, message.physicalPath, source])
                #expect(checked.status == 0, "\(checked.output)")
                #expect(checked.output.contains("\"pixels_equal\": true"))
                if source.hasSuffix("hyperstack_imagej.tif") { #expect(checked.output.contains("[0.325, 0.325, 1.5]"), "\(checked.output)") }
                if source.hasSuffix("wide_untiled.ome.tif") { #expect(checked.output.contains(#"["DAPI", "GFP", "RFP"]"#), "\(checked.output)") }
            }
            // OME-TIFF input: nothing written, the source is the image of record.
            let kept = try #require(converted.map(\.payload).first { $0.inPlace == true })
            #expect(kept.objectID == kept.sourceObjectID && kept.physicalPath.hasSuffix("already.ome.tif"))
            #expect(try await harness.count("SELECT count(*)::int FROM objects WHERE parent_id IS NOT NULL") == 3)
            // Bad and unsupported input: recorded with the reason, nothing derived, the service runs on.
            let bad = try await row(harness, "SELECT state, failure_reason FROM objects WHERE logical_path LIKE '%truncated.tif'")
            #expect(bad["state"] as? String == "failed")
            #expect((bad["failure_reason"] as? String)?.contains("cannot be decoded") == true, "\(bad)")
            #expect((bad["failure_reason"] as? String)?.contains("/proc/self/fd") == false, "\(bad)")
            let czi = try await row(harness, "SELECT state, failure_reason FROM objects WHERE logical_path LIKE '%scan.czi'")
            #expect(czi["state"] as? String == "unsupported-format")
            #expect((czi["failure_reason"] as? String)?.contains("czi files cannot be read natively") == true, "\(czi)")
            let unknown = try await row(harness, "SELECT state FROM objects WHERE logical_path LIKE '%not_a_tiff.tif'")
            #expect(unknown["state"] as? String == "unsupported-format")
            #expect(try await eventually { try await harness.count("SELECT count(*)::int FROM objects WHERE state = 'registered'") == 0 })

            // A second object.registered for an object already converted (a new message id): no second derived image.
            let registered = await harness.registeredMessages()
            let plain = try #require(registered.first { $0.payload.logicalPath.hasSuffix("plain_u16.tif") })
            let publisher = harness.broker.publisher(service: "replay", keys: [])
            try await withRunningServices([publisher]) {
                var message = harness.broker.message(MessageCodec.encode(plain.payload), key: RoutingKey.objectRegistered.rawValue)
                message.properties.type = RoutingKey.objectRegistered.rawValue
                try await publisher.publish(message)
            }
            try await Task.sleep(for: .seconds(2))
            #expect(try await harness.count("SELECT count(*)::int FROM objects WHERE parent_id IS NOT NULL") == 3)
            #expect(await harness.convertedMessages().count == 4)
            #expect(harness.converter.map { kill($0.pid, 0) == 0 } == true, "the converter must still run")
        }
    }

    @Test func anExternalConverterHandlesVendorFormatsAndItsFailuresAreRecorded() async throws {
        try await IngestHarness.with { harness in
            try await harness.startConverter([
                "FAIRWAY_EXTERNAL_CONVERTER": "\(python.path) \(TestEnvironment.supportScript("fake_bfconvert.py").path) {input} {output}",
                "FAIRWAY_EXTERNAL_CONVERTER_TIMEOUT": "3s",
            ])
            for (name, marker) in [("good.czi", "OK"), ("broken.czi", "FAIL"), ("stuck.czi", "SLEEP"), ("plain.nd2", "NOTOME")] {
                try harness.write("lab/vendor/run-1/\(name)", Array("ZISRAWFILE\(marker)".utf8) + [UInt8](repeating: 0, count: 64))
            }
            let posted = try await harness.post(["zone": harness.zone, "path": "lab/vendor/run-1"])
            #expect(posted.status == 202, "\(posted.text)")
            let converted = try await harness.waitForConverted(1)
            if converted.isEmpty {
                let states = try await row(harness, "SELECT json_agg(json_build_object('p', logical_path, 's', state, 'f', format, 'r', failure_reason)) AS all FROM objects")
                Issue.record("nothing converted; registered \(await harness.registeredMessages().count); objects \(states); converter: \(harness.converter?.output.suffix(3000) ?? "")")
            }
            #expect(try await eventually(timeout: .seconds(30)) {
                try await harness.count("SELECT count(*)::int FROM objects WHERE parent_id IS NULL AND state IN ('converted', 'failed')") == 4
            })
            let good = try #require(converted.first?.payload)
            #expect(good.inPlace == false && good.physicalPath.hasSuffix("good.czi.ome.tif"))
            let checked = try await TestEnvironment.run(python, ["-c", """
                import sys, tifffile, ome_types
                with tifffile.TiffFile(sys.argv[1]) as f:
                    ome_types.validate_xml(f.ome_metadata)
                    print(f.series[0].shape)
                """, good.physicalPath])
            #expect(checked.status == 0 && checked.output.contains("(3, 40, 50)"), "\(checked.output)")
            for (name, reason) in [("broken.czi", "exited with 2: Exception in thread main"), ("stuck.czi", "ran longer than"),
                                   ("plain.nd2", "without OME-XML")] {
                let object = try await row(harness, "SELECT state, failure_reason FROM objects WHERE logical_path LIKE '%\(name)'")
                #expect(object["state"] as? String == "failed", "\(name): \(object)")
                #expect((object["failure_reason"] as? String)?.contains(reason) == true, "\(name): \(object)")
            }
            // Nothing half-written is left in the derived resource.
            let left = try FileManager.default.subpathsOfDirectory(atPath: harness.derived.path).filter { $0.hasSuffix(".tif") }
            #expect(left == ["scope-1/lab/vendor/run-1/good.czi.ome.tif"], "\(left)")
        }
    }

    /// A derived resource that cannot be written is the operator's to fix, not the image's fault: the
    /// object stays `registered`, the message is retried and then kept in the dead-letter queue with
    /// the reason, ready to be replayed.
    @Test func anUnwritableDerivedResourceKeepsTheMessageNotTheBlame() async throws {
        try await IngestHarness.with { harness in
            try await harness.startConverter()
            // A file where the converter needs a folder (root ignores permissions, not this).
            try Data("in the way".utf8).write(to: harness.derived.appendingPathComponent(harness.zone))
            try await stage(["plain_u16.tif"], into: harness, folder: "lab/full/run-1")
            #expect(try await harness.post(["zone": harness.zone, "path": "lab/full/run-1"]).status == 202)
            _ = try await harness.waitForMessages(1)
            let queue = harness.broker.names.deadLetterQueue("converter")
            let parked = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                (try? await harness.broker.admin.queueState(queue).ready) == 1
            }
            #expect(parked, "\(harness.converter?.output.suffix(3000) ?? "")")
            let dlq = harness.broker.consumer(service: "converter", keys: [RoutingKey.objectRegistered.rawValue], queue: queue)
            let error = try await withRunningServices([dlq]) { () throws in
                var iterator = dlq.deliveries.makeAsyncIterator()
                guard parked, let delivery = await iterator.next() else { return "" }
                delivery.ack()
                return delivery.properties.headers["x-fairway-error"]?.stringValue ?? ""
            }
            #expect(error.contains("cannot create the folder") && error.contains("Not a directory"), "\(error)")
            let object = try await row(harness, "SELECT state, failure_reason FROM objects WHERE logical_path LIKE '%plain_u16.tif'")
            #expect(object["state"] as? String == "registered", "\(object)")
            #expect(await harness.convertedMessages().isEmpty)
        }
    }
}
