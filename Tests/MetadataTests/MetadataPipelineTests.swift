import FairwayContracts
import FairwayTestSupport
import Foundation
import PostgresNIO
import Testing

/// fairway-ingest, fairway-converter and fairway-metadata as processes against the real PostgreSQL
/// and RabbitMQ: images are described (image_metadata, annotations, machine tags, naming fields),
/// hostile XML is recorded on its object, user metadata comes from a sidecar and `fairway
/// annotate`, and search finds objects by machine tag, annotation, words and dates.
@Suite struct MetadataPipelineTests {

    func search(_ harness: IngestHarness, _ query: String) async throws -> (status: Int, paths: [String], body: [String: Any]) {
        let answer = try await harness.request(.GET, "/v1/search?" + query)
        let objects = answer.body["objects"] as? [[String: Any]] ?? []
        return (answer.status, objects.compactMap { $0["path"] as? String }.sorted(), answer.body)
    }

    @Test func imagesAreDescribedTaggedAndFoundBySearch() async throws {
        try await IngestHarness.with { harness in
            try await harness.startConverter()
            try await harness.startMetadata()
            let cases = try TestEnvironment.temporaryFolder("metadata-cases")
            defer { try? FileManager.default.removeItem(at: cases) }
            let made = try await TestEnvironment.pythonJSON("make_metadata_cases.py", [cases.path])
            try #require(made.status == 0, "\(made.output)")
            let expected = try #require(made.json as? [String: [String: Any]])
            let convert = try await TestEnvironment.run(TestEnvironment.python, [TestEnvironment.supportScript("make_convert_cases.py").path, cases.path])
            try #require(convert.status == 0, "\(convert.output)")

            // The investigation exists before its files arrive, with a naming pattern.
            try await harness.database.withClient { client in
                _ = try await client.query("SELECT fairway_assay('neuro', 'mice', 'confocal', NULL)").collect()
            }
            _ = try await harness.cli("metadata", "naming", "--investigation", "neuro", "{date:yyyy-MM-dd}_{sample}")
            let hostile = ["xxe_file.ome.tif", "billion_laughs.ome.tif", "deep.ome.tif", "not_ome_root.ome.tif", "no_image.ome.tif",
                           "bad_size.ome.tif", "invalid_utf8.ome.tif"]
            for name in ["2025-03-14_rich.ome.tif", "plain_u16.tif"] + hostile {
                try harness.write("run-7/\(name)", Array(try Data(contentsOf: cases.appendingPathComponent(name))))
            }
            try harness.write("run-7/fairway.yaml", Array("""
                # the acquisition's own metadata
                organism: Mus musculus
                staining:
                  - DAPI
                  - anti-GFP
                study:
                  title: Cortex imaging
                  creator: Ada Lovelace (0000-0002-1825-0097)

                """.utf8))
            let posted = try await harness.post(["zone": harness.zone, "path": "run-7", "investigation": "neuro", "study": "mice", "assay": "confocal"])
            #expect(posted.status == 202, "\(posted.text)")
            let extracted = try await harness.waitForExtracted(2)
            #expect(try await eventually(timeout: .seconds(60)) {
                try await harness.count("SELECT count(*)::int FROM objects WHERE state IN ('registered', 'converted') AND format <> 'unknown'") == 0
            }, "\(harness.metadata?.output.suffix(3000) ?? "")")

            // The rich OME-TIFF: what ome-types reads, in the catalog.
            let rich = try #require(try await harness.rows("""
                SELECT o.id, o.state, m.status, m.origin, m.microscope, m.objective, m.physical_size_x, m.physical_size_z, m.size_c,
                       m.experimenter, m.acquired_at, m.missing_fields, m.naming,
                       (SELECT json_object_agg(key, value) FROM annotations a WHERE a.object_id = o.id AND a.namespace = 'fairway/machine-tags') AS tags,
                       (SELECT json_object_agg(key, value) FROM annotations a WHERE a.object_id = o.id AND a.namespace = 'fairway/original-metadata') AS original,
                       (SELECT json_object_agg(key, value) FROM annotations a WHERE a.object_id = o.id AND a.namespace = 'fairway/naming') AS naming_fields,
                       m.record -> 'channels' -> 1 ->> 'name' AS channel1
                FROM objects o JOIN image_metadata m ON m.object_id = o.id WHERE o.logical_path LIKE '%2025-03-14_rich.ome.tif'
                """).first)
            let expect = try #require(expected["2025-03-14_rich.ome.tif"]?["expect"] as? [String: Any])
            #expect(rich["state"] as? String == "described" && rich["status"] as? String == "extracted" && rich["origin"] as? String == "ome-xml")
            #expect(rich["microscope"] as? String == (expect["microscope"] as? [String])?.joined(separator: " "))
            #expect(rich["objective"] as? String == (expect["objective"] as? [Any])?.first as? String)
            #expect(abs((rich["physical_size_x"] as? Double ?? 0) - ((expect["physical"] as? [Double])?[0] ?? -1)) < 1e-9)
            #expect(abs((rich["physical_size_z"] as? Double ?? 0) - ((expect["physical"] as? [Double])?[2] ?? -1)) < 1e-9)
            #expect(rich["experimenter"] as? String == expect["experimenter"] as? String)
            #expect((rich["acquired_at"] as? String)?.hasPrefix("2025-03-14T15:09:26") == true, "\(rich)")
            #expect(rich["original"] as? [String: String] == expect["annotations"] as? [String: String])
            #expect(rich["channel1"] as? String == (expect["channels"] as? [String])?.last)
            let tags = rich["tags"] as? [String: String] ?? [:]
            #expect(tags["microscope"] == "Leica SP8" && tags["user"] == "jdupont" && tags["lasers"] == "488 nm, 561 nm" && tags["filters"] == "BP 525/50", "\(tags)")
            #expect(rich["naming_fields"] as? [String: String] == ["date": "2025-03-14", "sample": "rich"])
            #expect(rich["missing_fields"] as? [String] == [], "\(rich)")
            let richID = try #require((rich["id"] as? String).flatMap(UUID.init(uuidString:)))
            #expect(extracted.contains { $0.payload.objectID == richID && $0.payload.complete })

            // The plain TIFF: described through its derived OME-TIFF; the name breaks the pattern (flagged).
            let plain = try #require(try await harness.rows("""
                SELECT o.state, p.state AS source_state, m.status, m.naming, m.missing_fields FROM objects o
                JOIN objects p ON p.id = o.parent_id JOIN image_metadata m ON m.object_id = o.id WHERE p.logical_path LIKE '%plain_u16.tif'
                """).first)
            #expect(plain["state"] as? String == "described" && plain["source_state"] as? String == "described")
            let naming = plain["naming"] as? [String: Any] ?? [:]
            #expect((naming["flags"] as? [String] ?? []).contains { $0.hasPrefix("does not follow the naming pattern") }, "\(naming)")
            #expect((plain["missing_fields"] as? [String] ?? []).contains("microscope"))

            // Hostile XML: each object failed with its specific reason; the services ran on.
            for name in hostile {
                let object = try #require(try await harness.rows("SELECT state, failure_reason FROM objects WHERE logical_path LIKE '%/\(name)'").first, "\(name)")
                let words = expected[name]?["reason"] as? String ?? "?"
                #expect(object["state"] as? String == "failed", "\(name): \(object)")
                #expect((object["failure_reason"] as? String)?.contains(words) == true, "\(name): \(object) should say \(words)")
            }
            #expect(try await harness.count("SELECT count(*)::int FROM image_metadata WHERE status = 'failed'") >= 3)
            #expect(harness.metadata.map { kill($0.pid, 0) == 0 } == true, "the metadata service must still run")
            #expect(harness.metadata?.output.contains("dead-lettered") == false, "every message the metadata step gets is its own")

            // The sidecar: study keys at the study, the rest at the assay.
            let sidecar = try await harness.rows("""
                SELECT CASE WHEN study_id IS NOT NULL THEN 'study' ELSE 'assay' END AS level, key, value FROM annotations
                WHERE namespace = 'sidecar' ORDER BY key, value
                """)
            #expect(sidecar.map { "\($0["level"] as? String ?? "")/\($0["key"] as? String ?? "")=\($0["value"] as? String ?? "")" } == [
                "study/creator=Ada Lovelace (0000-0002-1825-0097)", "assay/organism=Mus musculus",
                "assay/staining=DAPI", "assay/staining=anti-GFP", "study/title=Cortex imaging",
            ])

            // fairway annotate at the study level.
            let csv = cases.appendingPathComponent("study.csv")
            try Data("key,value\nlicense,CC-BY-4.0\n\"keywords\",\"cortex, two-photon\"\n".utf8).write(to: csv)
            let annotated = try await harness.cliResult(["annotate", "--investigation", "neuro", "--study", "mice", "--file", csv.path])
            #expect(annotated.status == 0 && annotated.output.contains("2 annotations added"), "\(annotated.output)")
            let broken = cases.appendingPathComponent("broken.yaml")
            try Data("a: &x 1\nb: *x\n".utf8).write(to: broken)
            let refused = try await harness.cliResult(["annotate", "--investigation", "neuro", "--study", "mice", "--file", broken.path])
            #expect(refused.status == 1 && refused.output.contains("line 1"), "\(refused.output)")

            // Search through the API (the token's zone) and the CLI.
            let byTag = try await search(harness, "tag=microscope:leica+sp8")
            #expect(byTag.status == 200 && byTag.paths.count == 1 && byTag.paths[0].hasSuffix("2025-03-14_rich.ome.tif"), "\(byTag.body)")
            #expect(try await search(harness, "tag=microscope:Zeiss").paths.isEmpty)
            let byLicense = try await search(harness, "license=cc-by-4.0&tag=objective")
            #expect(byLicense.paths.count == 1, "\(byLicense.body)")
            let byOrganism = try await search(harness, "organism=Mus%20musculus&limit=1000")
            #expect(byOrganism.paths.count == 11, "every object of the assay: \(byOrganism.paths)")
            #expect(try await search(harness, "text=Leica+rich").paths.count == 1)
            #expect(try await search(harness, "sample=rich").paths.count == 1)
            #expect(try await search(harness, "from=2025-03-14&to=2025-03-14&investigation=neuro").paths.count == 1)
            #expect(try await search(harness, "from=2025-03-15").paths.isEmpty)
            var page = try await search(harness, "organism=Mus+musculus&limit=4")
            var seen = page.paths
            while let next = page.body["next"] as? String {
                page = try await search(harness, "organism=Mus+musculus&limit=4&after=\(next)")
                seen += page.paths
            }
            #expect(seen.count == 11 && Set(seen).count == 11)
            for bad in ["limit=0", "from=yesterday", "k%01=v", "tag=", "investigation=..", String(repeating: "k=v&", count: 17), "after=nope"] {
                let answer = try await harness.request(.GET, "/v1/search?" + bad)
                #expect(answer.status == 400 && answer.body["error"] as? String == "bad query", "\(bad): \(answer.text)")
            }
            #expect(try await harness.request(.GET, "/v1/search?tag=microscope", token: nil).status == 401)
            let cli = try await harness.cliResult(["search", "--tag", "microscope:Leica SP8", "staining=dapi", "--json"])
            let found = ((try? JSONSerialization.jsonObject(with: Data(cli.output.utf8.drop { $0 != UInt8(ascii: "{") }))) as? [String: Any])?["objects"] as? [[String: Any]] ?? []
            #expect(cli.status == 0 && found.count == 1 && (found.first?["path"] as? String)?.hasSuffix("2025-03-14_rich.ome.tif") == true, "\(cli.output)")
            #expect((found.first?["machineTags"] as? [String: String])?["microscope"] == "Leica SP8")

            // A broken sidecar: the folder is registered all the same, the file carries its error.
            try harness.write("run-8/fairway.yaml", Array("organism: &o Mus musculus\nstrain: *o\n".utf8))
            let broken8 = try await harness.post(["zone": harness.zone, "path": "run-8", "investigation": "neuro", "study": "mice", "assay": "other"])
            let settled = try await harness.settled(try #require(broken8.body["id"] as? String))
            #expect(settled["state"] as? String == "registered", "\(settled)")
            let sidecarError = try await harness.rows("""
                SELECT a.value FROM annotations a JOIN objects o ON o.id = a.object_id
                WHERE o.logical_path LIKE '%run-8/fairway.yaml' AND a.namespace = 'sidecar' AND a.key = 'error'
                """)
            #expect((sidecarError.first?["value"] as? String)?.contains("line 1: anchors (&) and aliases (*) are not supported") == true, "\(sidecarError)")
            #expect(try await harness.count("SELECT count(*)::int FROM annotations a JOIN assays y ON y.id = a.assay_id WHERE y.name = 'other'") == 0)

            // The completeness report.
            let check = try await harness.cliResult(["metadata", "check", "--investigation", "neuro", "--study", "mice", "--json"])
            #expect(check.status == 2, "\(check.output)")
            let report = (try? JSONSerialization.jsonObject(with: Data(check.output.utf8.drop { $0 != UInt8(ascii: "{") }))) as? [String: Any] ?? [:]
            let fields = Dictionary((report["fields"] as? [[String: Any]] ?? []).map { ($0["field"] as? String ?? "", $0) }) { a, _ in a }
            #expect(fields["title"]?["present"] as? Bool == true && (fields["title"]?["source"] as? String)?.contains("study annotation") == true)
            #expect(fields["creators with ORCID"]?["present"] as? Bool == true)
            #expect(fields["license"]?["value"] as? String == "CC-BY-4.0")
            #expect(fields["organism"]?["present"] as? Bool == true)
            #expect(fields["imaging method"]?["present"] as? Bool == false)
            #expect(fields["instrument"]?["present"] as? Bool == false, "the plain TIFF names no microscope")
        }
    }
}
