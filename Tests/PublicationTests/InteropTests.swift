import AsyncHTTPClient
import FairwayPublication
import FairwayTestSupport
import Foundation
import NIOCore
import Testing

/// The exports (OMERO bulk import, RO-Crate, ISA-JSON and its import) over a pipeline run of real
/// images, and OAI-PMH harvesting of published datasets, each read back by another project's tool:
/// roc-validator and ro-crate-py, isatools, Sickle.
@Suite("interop: OMERO, RO-Crate, ISA-JSON, OAI-PMH", .serialized)
struct InteropTests {
    /// `fairway publish` of the issue-8 example for any study.
    static func publish(_ harness: IngestHarness, _ environment: [String: String], investigation: String, study: String) async throws -> DOIName {
        let file = try TestEnvironment.temporaryFolder("fairway-interop").appendingPathComponent("publication.yaml")
        try Data(YAMLPublicationTests.example.utf8).write(to: file)
        let result = try await harness.cliResult(["publish", "--investigation", investigation, "--study", study, "--metadata", file.path, "--json"],
                                                 environment: environment)
        let line = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        guard let doi = DOIName((try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["doi"] as? String ?? "") else {
            throw TestSetupError("publish printed no DOI (exit \(result.status)): \(result.output)")
        }
        return doi
    }

    static func read(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    @Test("export omero, rocrate and isa after a pipeline run: OMERO's bulk files field by field and the same bytes again; the crate passes roc-validator; ISA passes isatools and imports back to the same hierarchy and annotations")
    func exports() async throws {
        try await IngestHarness.with { harness in
            try await harness.startConverter()
            try await harness.startMetadata()
            try await harness.startQC()
            let cases = try TestEnvironment.temporaryFolder("interop-cases")
            let made = try await TestEnvironment.pythonJSON("make_qc_cases.py", [cases.path])
            try #require(made.status == 0, "\(made.output)")
            for (folder, name) in [("hela", "zstack_u8.tif"), ("hela", "poisson_patches.tif"), ("hela-2", "zstack_u8.tif")] {
                try harness.write("\(folder)/\(name)", Array(try Data(contentsOf: cases.appendingPathComponent(name))))
            }
            #expect(try await harness.post(["zone": harness.zone, "path": "hela", "investigation": "NUC", "study": "hela", "assay": "plate-1"]).status == 202)
            #expect(try await harness.post(["zone": harness.zone, "path": "hela-2", "investigation": "NUC", "study": "hela", "assay": "plate-2"]).status == 202)
            let scored = try await harness.waitForScored(3, timeout: .seconds(120))
            try #require(scored.count == 3, "\(harness.qc?.output.suffix(3000) ?? "")")

            // Annotations on every level: investigation, study, assay (fairway annotate), and a
            // tag and a key-value pair on one image.
            let folder = try TestEnvironment.temporaryFolder("interop-annotations")
            let csv = folder.appendingPathComponent("meta.csv")
            try Data("organism,Homo sapiens\nstaining,\"DAPI, Hoechst\"\n".utf8).write(to: csv)
            for level in [["--investigation", "NUC"], ["--investigation", "NUC", "--study", "hela"], ["--investigation", "NUC", "--study", "hela", "--assay", "plate-1"]] {
                let annotated = try await harness.cliResult(["annotate"] + level + ["--file", csv.path, "--namespace", "lab:metadata"])
                try #require(annotated.status == 0, "\(annotated.output)")
            }
            #expect(try await harness.count("""
                WITH added AS (INSERT INTO annotations (object_id, kind, namespace, key, value, created_by)
                    SELECT id, k, 'user', key, value, 'test' FROM objects, (VALUES ('tag', 'mitosis', ''), ('map', 'well', 'B3')) AS v(k, key, value)
                    WHERE logical_path = 'scope-1/hela/zstack_u8.tif' RETURNING 1)
                SELECT count(*)::int FROM added
                """) == 2)

            try await DataCiteClientTests.withStandIn { url in
                let environment = Registration.environment(url)
                try await harness.startDOI(environment)
                let doi = try await Self.publish(harness, environment, investigation: "NUC", study: "hela")
                try await Registration.settle(harness, doi, state: "findable")
                let objects = try await harness.rows("""
                    SELECT o.logical_path, o.checksum, a.name AS assay FROM objects o JOIN assays a ON a.id = o.assay_id
                    WHERE o.parent_id IS NULL ORDER BY a.name, o.logical_path
                    """)
                try #require(objects.count == 3)

                // OMERO: in-place bulk import files, paths as the OMERO server mounts the zone.
                let landing = harness.landing.resolvingSymlinksInPath().path
                let out = try TestEnvironment.temporaryFolder("interop-omero")
                let omero = try await harness.cliResult(["export", "omero", "--investigation", "NUC", "--study", "hela", "--out", out.path,
                                                         "--path-map", "\(landing)=/OMERO/inplace/scope-1", "--json"])
                #expect(omero.status == 0, "\(omero.output)")
                let bulk = try Self.read(out.appendingPathComponent("bulk.yml"))
                let settings = bulk.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
                #expect(settings == """
                    path: "files.tsv"
                    columns:
                      - target
                      - name
                      - path
                    transfer: "ln_s"
                    checksum_algorithm: "SHA1-160"
                    continue: "true"
                    exclude: "clientpath"
                    """, "\(bulk)")
                #expect(bulk.contains("omero import -g NUC --bulk bulk.yml"))
                let lines = try Self.read(out.appendingPathComponent("files.tsv")).split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
                #expect(lines.map { $0.count } == [3, 3, 3])
                #expect(lines.map { $0[0] } == ["Project:name:hela/Dataset:name:plate-1", "Project:name:hela/Dataset:name:plate-1", "Project:name:hela/Dataset:name:plate-2"])
                #expect(lines.map { $0[1] } == ["poisson_patches.tif", "zstack_u8.tif", "zstack_u8.tif"])
                #expect(lines.map { $0[2] } == ["/OMERO/inplace/scope-1/hela/poisson_patches.tif", "/OMERO/inplace/scope-1/hela/zstack_u8.tif",
                                                "/OMERO/inplace/scope-1/hela-2/zstack_u8.tif"], "\(lines)")
                let table = try Self.read(out.appendingPathComponent("annotations.csv")).split(separator: "\n").map(String.init)
                #expect(table.count == 5 && table[0].hasPrefix("# header s,s,s,s,l,s,s,s,s,s,s"))
                let header = table[1].split(separator: ",").map(String.init)
                #expect(header.prefix(10) == ["Dataset Name", "Image Name", "Fairway Object", "SHA-256", "Size (bytes)", "Format", "Acquired", "Instrument", "QC Verdict", "Tags"])
                // Columns for the annotations of the images and of their images of record (metadata, QC).
                #expect(header.contains("well") && header.contains("qc"), "\(header)")
                #expect(table[0].split(separator: ",").count == header.count)
                let zstack = table[3].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                let expectedHex = Data(base64Encoded: String((objects[1]["checksum"] as? String ?? "").dropFirst(5)))!.map { String(format: "%02x", $0) }.joined()
                #expect(zstack.count == header.count && zstack[0] == "plate-1" && zstack[1] == "zstack_u8.tif" && zstack[3] == expectedHex, "\(zstack)")
                #expect(["pass", "warn", "fail"].contains(zstack[8]) && zstack[9] == "mitosis" && zstack[header.firstIndex(of: "well")!] == "B3", "\(zstack)")
                // The same catalog gives the same bytes; one assay gives its own lines only.
                let first = try [bulk, Self.read(out.appendingPathComponent("files.tsv")), Self.read(out.appendingPathComponent("annotations.csv"))]
                #expect(try await harness.cliResult(["export", "omero", "--investigation", "NUC", "--study", "hela", "--out", out.path,
                                                     "--path-map", "\(landing)=/OMERO/inplace/scope-1"]).status == 0)
                #expect(try [Self.read(out.appendingPathComponent("bulk.yml")), Self.read(out.appendingPathComponent("files.tsv")),
                             Self.read(out.appendingPathComponent("annotations.csv"))] == first)
                let one = try TestEnvironment.temporaryFolder("interop-omero-assay")
                #expect(try await harness.cliResult(["export", "omero", "--investigation", "NUC", "--study", "hela", "--assay", "plate-2", "--out", one.path]).status == 0)
                let physical = try Self.read(one.appendingPathComponent("files.tsv"))
                #expect(physical == "Project:name:hela/Dataset:name:plate-2\tzstack_u8.tif\t\(landing)/hela-2/zstack_u8.tif\n", "\(physical)")
                // The converted OME-TIFFs instead; a path map that covers nothing leaves everything out (exit 1, listed).
                let converted = try TestEnvironment.temporaryFolder("interop-omero-converted")
                let derivedRoot = harness.derived.resolvingSymlinksInPath().path
                #expect(try await harness.cliResult(["export", "omero", "--investigation", "NUC", "--study", "hela", "--use", "converted", "--out", converted.path,
                                                     "--path-map", "\(derivedRoot)=/OMERO/derived"]).status == 0)
                #expect(try Self.read(converted.appendingPathComponent("files.tsv")).split(separator: "\n").allSatisfy { $0.contains("\t/OMERO/derived/") && $0.hasSuffix(".ome.tif") })
                let uncovered = try await harness.cliResult(["export", "omero", "--investigation", "NUC", "--study", "hela", "--out", converted.path,
                                                             "--path-map", "/nowhere=/OMERO"])
                #expect(uncovered.status == 1 && uncovered.output.contains("under no --path-map folder") && uncovered.output.contains("3 files left out"), "\(uncovered.output)")
                #expect(try await harness.cliResult(["export", "omero", "--investigation", "NUC", "--study", "hela", "--out", out.path, "--path-map", "../x=/y"]).status == 64)
                #expect(try await harness.cliResult(["export", "omero", "--investigation", "NUC", "--study", "nope", "--out", out.path]).output.contains("no study nope"))

                // RO-Crate 1.1, checked by roc-validator (REQUIRED) and read by ro-crate-py.
                let crateFolder = try TestEnvironment.temporaryFolder("interop-crate")
                let crate = try await harness.cliResult(["export", "rocrate", "--investigation", "NUC", "--study", "hela", "--out", crateFolder.path])
                #expect(crate.status == 0, "\(crate.output)")
                let checked = try await TestEnvironment.pythonJSON("check_rocrate.py", [crateFolder.path])
                let report = checked.json as? [String: Any] ?? [:]
                #expect(checked.status == 0 && report["ok"] as? Bool == true, "\(checked.output.suffix(3000))")
                // Three images where the zone keeps them, and their converted OME-TIFFs in the derived resource.
                let crateFiles = report["files"] as? [String] ?? []
                #expect(crateFiles.count == 6 && crateFiles.filter { $0.hasPrefix("file://\(landing)/") }.count == 3
                        && crateFiles.filter { $0.hasPrefix("file://\(derivedRoot)/") && $0.hasSuffix(".ome.tif") }.count == 3, "\(crateFiles)")
                let root = report["root"] as? [String: Any] ?? [:]
                #expect(root["identifier"] as? String == "https://doi.org/\(doi)" && root["additionalType"] as? String == "Study")
                let crateText = try Self.read(crateFolder.appendingPathComponent("ro-crate-metadata.json"))
                #expect(crateText.contains("https://orcid.org/0000-0002-1825-0097") && crateText.contains("https://creativecommons.org/licenses/by/4.0/")
                        && crateText.contains(expectedHex) && crateText.contains("\"propertyID\" : \"lab:metadata:organism\""), "\(crateText.prefix(2000))")

                // ISA-JSON, validated and loaded by isatools.
                let isaFolder = try TestEnvironment.temporaryFolder("interop-isa")
                let isa = try await harness.cliResult(["export", "isa", "--investigation", "NUC", "--study", "hela", "--out", isaFolder.path])
                #expect(isa.status == 0, "\(isa.output)")
                let isaFile = isaFolder.appendingPathComponent("i_NUC.json")
                let validated = try await TestEnvironment.pythonJSON("check_isajson.py", [isaFile.path, "--assay-type", "imaging|microscopy"])
                let loaded = validated.json as? [String: Any] ?? [:]
                #expect(validated.status == 0 && loaded["ok"] as? Bool == true, "\(validated.output.suffix(3000))")
                let investigation = loaded["investigation"] as? [String: Any] ?? [:]
                let study = (investigation["studies"] as? [[String: Any]])?.first ?? [:]
                #expect(study["identifier"] as? String == "hela")
                let assays = study["assays"] as? [[String: Any]] ?? []
                #expect(assays.map { $0["filename"] as? String } == ["a_plate-1.txt", "a_plate-2.txt"])
                let dataFiles = assays.map { ($0["dataFiles"] as? [[String: Any]] ?? []) }
                #expect(dataFiles.map { $0.filter { $0["type"] as? String == "Image File" }.compactMap { $0["name"] as? String } }
                        == [["scope-1/hela/poisson_patches.tif", "scope-1/hela/zstack_u8.tif"], ["scope-1/hela-2/zstack_u8.tif"]])
                #expect(dataFiles.map { $0.filter { $0["type"] as? String == "Derived Data File" && ($0["name"] as? String)?.hasSuffix(".ome.tif") == true }.count } == [2, 1],
                        "the converted OME-TIFFs, with their own metadata")
                let comments = (investigation["comments"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(comments.contains("lab%3Ametadata:organism") && comments.contains("lab%3Ametadata:staining"), "\(comments)")
                #expect((study["publications"] as? [[String: Any]])?.first?["doi"] as? String == doi.description)

                // Round trip: with every annotation of the study gone, importing the file restores
                // them, and exporting again gives the same document.
                let exported = try Self.read(isaFile)
                let removed = try await harness.count("""
                    WITH gone AS (DELETE FROM annotations WHERE investigation_id IS NOT NULL OR study_id IS NOT NULL OR assay_id IS NOT NULL
                                  OR object_id IS NOT NULL RETURNING 1)
                    SELECT count(*)::int FROM gone
                    """)
                #expect(removed > 8)
                let imported = try await harness.cliResult(["import", "isa", isaFile.path, "--json"])
                #expect(imported.status == 0, "\(imported.output)")
                let summary = try JSONSerialization.jsonObject(with: Data((imported.output.split(separator: "\n").last ?? "").utf8)) as? [String: Any] ?? [:]
                #expect(summary["addedAnnotations"] as? Int == removed && summary["annotatedFiles"] as? Int == 6, "\(summary)")
                #expect(try await harness.cliResult(["export", "isa", "--investigation", "NUC", "--study", "hela", "--out", isaFolder.path]).status == 0)
                #expect(try Self.read(isaFile) == exported)
                // Importing again adds nothing; under another name it creates the hierarchy, and the
                // data files, not registered there, are listed.
                #expect(try await harness.cliResult(["import", "isa", isaFile.path]).output.contains("0 annotations added"))
                let copy = try await harness.cliResult(["import", "isa", isaFile.path, "--investigation", "NUC-copy"])
                #expect(copy.status == 0 && copy.output.contains("1 studies (1 new), 2 assays (2 new)") && copy.output.contains("6 data files are not registered"), "\(copy.output)")
                #expect(try await harness.count("""
                    SELECT count(*)::int FROM annotations n JOIN assays a ON a.id = n.assay_id JOIN studies s ON s.id = a.study_id
                    JOIN investigations i ON i.id = s.investigation_id WHERE i.name = 'NUC-copy' AND a.name = 'plate-1' AND n.namespace = 'lab:metadata'
                    """) == 2)
                let broken = folder.appendingPathComponent("broken.json")
                try Data(#"{"identifier": "NUC", "studies": [{"identifier": "hela", "assays": [{"filename": "plate.txt"}]}]}"#.utf8).write(to: broken)
                let refused = try await harness.cliResult(["import", "isa", broken.path])
                #expect(refused.status == 1 && refused.output.contains("studies[0].assays[0].filename plate.txt is not a_<assay name>.txt"), "\(refused.output)")
            }
        }
    }

    @Test("OAI-PMH: Sickle harvests published datasets in oai_dc and oai_datacite page by page, by set and date; a withdrawn one is a deleted record; every protocol error is answered")
    func harvesting() async throws {
        try await IngestHarness.with { harness in
            for (folder, investigation, study) in [("a", "NUC", "hela"), ("b", "NUC", "hela-2"), ("c", "LAB", "u2os"), ("d", "LAB", "draft")] {
                _ = try harness.write("\(folder)/image.tif", IngestHarness.randomBytes(2000))
                let posted = try await harness.post(["zone": harness.zone, "path": folder, "investigation": investigation, "study": study, "assay": "plate"])
                _ = try await harness.settled(posted.body["id"] as? String ?? "")
            }
            try await DataCiteClientTests.withStandIn { url in
                let environment = Registration.environment(url)
                // Without a contact address, OAI-PMH says what to set.
                try await harness.startDOI(environment)
                let off = try await Registration.get(harness, "/oai?verb=Identify")
                #expect(off.status == 503 && off.body.contains("FAIRWAY_OAI_ADMIN_EMAIL"), "\(off.body)")
                await harness.stopDOI()
                try await harness.startDOI(environment.merging(["FAIRWAY_OAI_ADMIN_EMAIL": "datasets@facility.example", "FAIRWAY_OAI_PAGE_SIZE": "1"]) { $1 })

                var dois: [String: DOIName] = [:]
                for (investigation, study) in [("NUC", "hela"), ("NUC", "hela-2"), ("LAB", "u2os")] {
                    let doi = try await Self.publish(harness, environment, investigation: investigation, study: study)
                    try await Registration.settle(harness, doi, state: "findable")
                    dois[study] = doi
                }
                // Refused by DataCite, so never registered: not harvestable.
                try await DataCiteClientTests.faults(url, #"[{"status": 422, "errors": [{"source": "titles", "title": "refused"}]}]"#)
                let refused = try await Self.publish(harness, environment, investigation: "LAB", study: "draft")
                try await Registration.settle(harness, refused, state: "failed")
                let withdrawn = try await harness.cliResult(["withdraw", dois["hela-2"]!.description, "--reason", "Consent withdrawn"], environment: environment)
                #expect(withdrawn.status == 0, "\(withdrawn.output)")
                try await Registration.settle(harness, dois["hela-2"]!, state: "hidden")

                let base = "http://127.0.0.1:\(harness.doiPort)/oai"
                let harvested = try await TestEnvironment.pythonJSON("oai_harvest.py", [base])
                let report = harvested.json as? [String: Any] ?? [:]
                #expect(harvested.status == 0 && report["ok"] as? Bool == true, "\(harvested.output.suffix(4000))")
                let identify = report["identify"] as? [String: Any] ?? [:]
                #expect(identify["repositoryName"] as? String == "Example Imaging Facility datasets" && identify["baseURL"] as? String == "https://data.facility.example/oai")
                #expect(identify["deletedRecord"] as? String == "persistent" && identify["granularity"] as? String == "YYYY-MM-DDThh:mm:ssZ"
                        && (identify["adminEmail"] as? [String]) == ["datasets@facility.example"], "\(identify)")
                #expect((report["formats"] as? [[String: Any]])?.compactMap { $0["metadataPrefix"] as? String } == ["oai_dc", "oai_datacite"])
                #expect((report["sets"] as? [[String: Any]])?.compactMap { $0["setSpec"] as? String } == ["LAB", "NUC"])
                // Page size 1: three records came over three pages (resumption tokens followed).
                #expect((report["requests"] as? Int ?? 0) >= 12, "\(report["requests"] ?? "")")
                let prefixes = report["prefixes"] as? [String: [String: Any]] ?? [:]
                let dc = prefixes["oai_dc"]?["records"] as? [[String: Any]] ?? []
                #expect(Set(dc.compactMap { $0["identifier"] as? String }) == Set(dois.values.map { "oai:data.facility.example:\($0)" }), "\(dc)")
                let deleted = dc.filter { $0["deleted"] as? Bool == true }
                #expect(deleted.count == 1 && deleted.first?["identifier"] as? String == "oai:data.facility.example:\(dois["hela-2"]!)")
                let live = dc.first { $0["identifier"] as? String == "oai:data.facility.example:\(dois["hela"]!)" } ?? [:]
                #expect((live["titles"] as? [String]) == ["HeLa nuclei, control condition, 3-channel confocal stacks"])
                #expect((live["identifiers"] as? [String])?.contains("https://doi.org/\(dois["hela"]!)") == true && (live["creators"] as? [String]) == ["Martin, Alice"])
                #expect((live["setSpecs"] as? [String]) == ["NUC"])
                let datacite = (prefixes["oai_datacite"]?["records"] as? [[String: Any]] ?? []).first { $0["doi"] as? String == dois["u2os"]!.description } ?? [:]
                #expect(datacite["wrapper"] as? String == "oai-1.1" && datacite["schemaVersion"] as? String == "4.5" && datacite["datacentreSymbol"] as? String == "FAIRWAY", "\(datacite)")
                #expect(datacite["publisher"] as? String == "Example Imaging Facility" && (datacite["resourceType"] as? [String: Any])?["general"] as? String == "Image", "one image: DataCite's Image type")
                #expect((prefixes["oai_datacite"]?["getrecord"] as? [[String: Any]])?.count == 3)

                // By set, and by dates (a day range covering today; one in the future has nothing).
                let lab = try await TestEnvironment.pythonJSON("oai_harvest.py", [base, "--set", "LAB", "--prefix", "oai_dc", "--no-getrecord"])
                #expect(((lab.json as? [String: Any])?["prefixes"] as? [String: [String: Any]])?["oai_dc"]?["records"].map { ($0 as? [Any])?.count } == 1, "\(lab.output.suffix(2000))")
                let today = String(Date().formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)).prefix(10))
                let dated = try await TestEnvironment.pythonJSON("oai_harvest.py", [base, "--from", today, "--until", today, "--prefix", "oai_dc", "--no-getrecord"])
                #expect(((dated.json as? [String: Any])?["prefixes"] as? [String: [String: Any]])?["oai_dc"]?["records"].map { ($0 as? [Any])?.count } == 3, "\(dated.output.suffix(2000))")
                let future = try await Registration.get(harness, "/oai?verb=ListRecords&metadataPrefix=oai_dc&from=2999-01-01")
                #expect(future.body.contains("<error code=\"noRecordsMatch\">"), "\(future.body)")

                // Every error the protocol defines, each in a well-formed envelope.
                let errors = try await TestEnvironment.pythonJSON("oai_harvest.py", [base, "--errors"])
                #expect(errors.status == 0 && (errors.json as? [String: Any])?["ok"] as? Bool == true, "\(errors.output.suffix(4000))")
                // POST is answered as GET; a hostile token is refused, not trusted.
                var post = HTTPClientRequest(url: base)
                post.method = .POST
                post.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                post.body = .bytes(ByteBuffer(string: "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai%3Adata.facility.example%3A\(dois["hela"]!.description.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"))
                let posted = try await IngestHarness.http.execute(post, timeout: .seconds(10))
                let postedBody = String(buffer: try await posted.body.collect(upTo: 1 << 20))
                #expect(posted.status.code == 200 && postedBody.contains("<dc:title>HeLa nuclei"), "\(postedBody)")
                let forged = try await Registration.get(harness, "/oai?verb=ListRecords&resumptionToken=eyJwIjoib2FpX2RjIiwiayI6IngnOyBEUk9QIiwiYyI6MX0")
                #expect(forged.body.contains("<error code=\"badResumptionToken\">") && !forged.body.contains("<record>"), "\(forged.body)")
                #expect(harness.doi?.isRunning == true)
            }
        }
    }
}
