import FairwayPublication
import FairwayTestSupport
import Foundation
import AsyncHTTPClient
import NIOCore
import Testing

/// A study NUC/hela with two registered files, and the settings `fairway publish` needs.
enum PublishFixture {
    static let settings = ["FAIRWAY_DOI_PREFIX": "10.5072", "FAIRWAY_LANDING_BASE_URL": "https://data.facility.example/datasets",
                           "FAIRWAY_PUBLISHER_NAME": "Example Imaging Facility", "FAIRWAY_PUBLISHER_ROR": "https://ror.org/02feahw73"]

    static func registerStudy(_ harness: IngestHarness, fileBytes: Int) async throws {
        for name in ["a.tif", "b.tif"] { _ = try harness.write("hela/\(name)", IngestHarness.randomBytes(fileBytes)) }
        let posted = try await harness.post(["zone": harness.zone, "path": "hela", "investigation": "NUC", "study": "hela", "assay": "plate-1"])
        _ = try await harness.settled(posted.body["id"] as? String ?? "")
    }
}

@Suite("fairway publish", .serialized)
struct PublishCommandTests {
    @Test("reserves one DOI per study after every field checks out; the stored record passes the DataCite schema; problems are listed per field")
    func reserve() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 5000)
            let folder = try TestEnvironment.temporaryFolder("fairway-publish")
            let good = folder.appendingPathComponent("publication.json")
            try Data(PublicationRecordTests.example.utf8).write(to: good)
            let settings = PublishFixture.settings

            let unconfigured = try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "hela", "--metadata", good.path])
            #expect(unconfigured.status == 1 && unconfigured.output.contains("set FAIRWAY_DOI_PREFIX, FAIRWAY_LANDING_BASE_URL, FAIRWAY_PUBLISHER_NAME first"))

            let bad = folder.appendingPathComponent("bad.json")
            try Data(#"{"title": "t", "description": "d", "creators": [{"name": "Martin, Alice", "orcid": "0000-0002-1825-0098"}], "license": "all rights reserved"}"#.utf8).write(to: bad)
            let refused = try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "hela", "--metadata", bad.path], environment: settings)
            #expect(refused.status == 1)
            #expect(refused.output.contains("not published: 2 problems") && refused.output.contains("creators[0].orcid:") && refused.output.contains("license:"), "\(refused.output)")
            let badYAML = folder.appendingPathComponent("bad.yaml")
            try Data("title: &t anchored\n".utf8).write(to: badYAML)
            let yamlRefused = try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "hela", "--metadata", badYAML.path], environment: settings)
            #expect(yamlRefused.status == 1 && yamlRefused.output.contains("line 1:"), "\(yamlRefused.output)")
            #expect(try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "nope", "--metadata", good.path], environment: settings).output
                .contains("no study nope in investigation NUC"))
            #expect(try await harness.count("SELECT count(*) FROM publications") == 0)

            let reserved = try await harness.cli("publish", "--investigation", "NUC", "--study", "hela", "--metadata", good.path, "--json", environment: settings)
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(reserved.utf8)) as? [String: Any])
            let doi = try #require(DOIName(answer["doi"] as? String ?? ""))
            #expect(doi.prefix == "10.5072" && answer["state"] as? String == "reserved" && answer["updated"] as? Bool == false)
            #expect(answer["landingPage"] as? String == "https://data.facility.example/datasets/\(doi)")

            // The record as stored: what DataCite will get, valid against the 4.5 schema.
            let record = try #require(try await harness.rows("SELECT record::text AS r FROM publications").first?["r"] as? String)
            let file = folder.appendingPathComponent("stored.json")
            try Data(record.utf8).write(to: file)
            let checked = try await TestEnvironment.pythonJSON("check_datacite.py", [file.path])
            let result = ((checked.json as? [String: Any])?["results"] as? [[String: Any]])?.first
            #expect(result?["valid"] as? Bool == true, "\(checked.output)")
            let attributes = try #require(((try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any])?["data"] as? [String: Any])?["attributes"] as? [String: Any])
            #expect(attributes["sizes"] as? [String] == ["2 files", "10000 bytes"])
            #expect((attributes["publisher"] as? [String: String])?["publisherIdentifier"] == "https://ror.org/02feahw73")
            #expect(try await harness.count("SELECT count(*) FROM outbox WHERE producer = 'doi' AND routing_key = 'dataset.publish.requested'") == 1)

            // Publishing again (now from the YAML of the issue) keeps the DOI and updates the metadata.
            let yaml = folder.appendingPathComponent("publication.yaml")
            try Data(YAMLPublicationTests.example.utf8).write(to: yaml)
            let again = try await harness.cli("publish", "--investigation", "NUC", "--study", "hela", "--metadata", yaml.path, environment: settings)
            #expect(again.contains("updated \(doi.url) for NUC/hela"), "\(again)")
            #expect(try await harness.count("SELECT count(*) FROM publications") == 1)
            #expect(try await harness.count("SELECT count(*) FROM audit_log WHERE action = 'publication.request'") == 2)
        }
    }
}

@Suite("Landing pages", .serialized)
struct LandingPageTests {
    @Test("GET /datasets/{doi}: citation, DOI link, mandatory fields, licence, files with checksums, parseable JSON-LD; content negotiation; hostile values escaped")
    func landingPage() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 4000)
            let folder = try TestEnvironment.temporaryFolder("fairway-landing")
            let file = folder.appendingPathComponent("publication.yaml")
            let title = "HeLa </script><script>alert(1)</script> & \"nuclei\""
            try Data(YAMLPublicationTests.example.replacingOccurrences(of: "title: HeLa nuclei, control condition, 3-channel confocal stacks",
                                                                       with: "title: '\(title)'").utf8).write(to: file)
            let settings = PublishFixture.settings
            let reserved = try await harness.cli("publish", "--investigation", "NUC", "--study", "hela", "--metadata", file.path, "--json", environment: settings)
            let doi = try #require(DOIName((try JSONSerialization.jsonObject(with: Data(reserved.utf8)) as? [String: Any])?["doi"] as? String ?? ""))
            try await harness.startDOI()

            func get(_ path: String, accept: String? = nil) async throws -> (status: UInt, type: String?, body: String) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(harness.doiPort)\(path)")
                if let accept { request.headers.add(name: "Accept", value: accept) }
                let response = try await IngestHarness.http.execute(request, timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 4 << 20)
                return (response.status.code, response.headers.first(name: "Content-Type"), String(buffer: body))
            }
            let page = try await get("/datasets/\(doi)", accept: "text/html,application/xhtml+xml")
            #expect(page.status == 200 && page.type == "text/html; charset=utf-8")
            #expect(page.body.contains("<a href=\"\(doi.url)\">\(doi.url)</a>"))
            #expect(!page.body.contains("<script>alert(1)</script>"), "the title must be escaped")
            #expect(page.body.contains("HeLa &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;nuclei&quot;"))
            for field in ["Martin, Alice", "Example Imaging Facility", "Dataset", "Creative Commons Attribution 4.0 International", "2 files", "8000 bytes"] {
                #expect(page.body.contains(field), "\(field)")
            }
            let checksums = try await harness.rows("SELECT checksum FROM objects").compactMap { $0["checksum"] as? String }
            #expect(checksums.count == 2 && checksums.allSatisfy { page.body.contains($0) })

            // The JSON-LD in the page parses, and is what application/ld+json answers.
            let start = try #require(page.body.range(of: "<script type=\"application/ld+json\">"))
            let end = try #require(page.body.range(of: "</script>", range: start.upperBound ..< page.body.endIndex))
            let embedded = try #require(try JSONSerialization.jsonObject(with: Data(page.body[start.upperBound ..< end.lowerBound].utf8)) as? [String: Any])
            #expect(embedded["@type"] as? String == "Dataset" && embedded["@id"] as? String == doi.url && embedded["name"] as? String == title)
            #expect((embedded["distribution"] as? [Any])?.count == 2)
            let linked = try await get("/datasets/\(doi)", accept: "application/ld+json")
            #expect(linked.type == "application/ld+json")
            #expect((try JSONSerialization.jsonObject(with: Data(linked.body.utf8)) as? [String: Any])?["identifier"] as? String == doi.url)
            let datacite = try await get("/datasets/\(doi.description.lowercased())", accept: "application/vnd.datacite.datacite+json")
            #expect(datacite.type == "application/vnd.datacite.datacite+json")
            #expect((try JSONSerialization.jsonObject(with: Data(datacite.body.utf8)) as? [String: Any])?["doi"] as? String == doi.description)

            // Unknown and hostile DOIs find nothing.
            for path in ["/datasets/10.5072/ABCD-EFGH0", "/datasets/10.5072/%2E%2E", "/datasets/10.5072/\(doi.suffix)%00", "/datasets/..%2F..%2Fetc%2Fpasswd/x"] {
                #expect(try await get(path).status == 404, "\(path)")
            }
        }
    }
}
