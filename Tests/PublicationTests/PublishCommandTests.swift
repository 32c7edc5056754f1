import FairwayPublication
import FairwayTestSupport
import Foundation
import Testing

@Suite("fairway publish", .serialized)
struct PublishCommandTests {
    @Test("reserves one DOI per study after every field checks out; the stored record passes the DataCite schema; problems are listed per field")
    func reserve() async throws {
        try await IngestHarness.with { harness in
            for name in ["a.tif", "b.tif"] { _ = try harness.write("hela/\(name)", IngestHarness.randomBytes(5000)) }
            let posted = try await harness.post(["zone": harness.zone, "path": "hela", "investigation": "NUC", "study": "hela", "assay": "plate-1"])
            _ = try await harness.settled(posted.body["id"] as? String ?? "")
            let folder = try TestEnvironment.temporaryFolder("fairway-publish")
            let good = folder.appendingPathComponent("publication.json")
            try Data(PublicationRecordTests.example.utf8).write(to: good)
            let settings = ["FAIRWAY_DOI_PREFIX": "10.5072", "FAIRWAY_LANDING_BASE_URL": "https://data.facility.example/datasets",
                            "FAIRWAY_PUBLISHER_NAME": "Example Imaging Facility", "FAIRWAY_PUBLISHER_ROR": "https://ror.org/02feahw73"]

            let unconfigured = try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "hela", "--metadata", good.path])
            #expect(unconfigured.status == 1 && unconfigured.output.contains("set FAIRWAY_DOI_PREFIX, FAIRWAY_LANDING_BASE_URL, FAIRWAY_PUBLISHER_NAME first"))

            let bad = folder.appendingPathComponent("bad.json")
            try Data(#"{"title": "t", "description": "d", "creators": [{"name": "Martin, Alice", "orcid": "0000-0002-1825-0098"}], "license": "all rights reserved"}"#.utf8).write(to: bad)
            let refused = try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "hela", "--metadata", bad.path], environment: settings)
            #expect(refused.status == 1)
            #expect(refused.output.contains("not published: 2 problems") && refused.output.contains("creators[0].orcid:") && refused.output.contains("license:"), "\(refused.output)")
            let yaml = folder.appendingPathComponent("publication.yaml")
            try Data("title: t\n".utf8).write(to: yaml)
            #expect(try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "hela", "--metadata", yaml.path], environment: settings).status == 1)
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

            // Publishing again keeps the DOI and updates the metadata.
            let again = try await harness.cli("publish", "--investigation", "NUC", "--study", "hela", "--metadata", good.path, environment: settings)
            #expect(again.contains("updated \(doi.url) for NUC/hela"), "\(again)")
            #expect(try await harness.count("SELECT count(*) FROM publications") == 1)
            #expect(try await harness.count("SELECT count(*) FROM audit_log WHERE action = 'publication.request'") == 2)
        }
    }
}
