import AsyncHTTPClient
import FairwayDataCite
import FairwayPublication
import FairwayTestSupport
import Foundation
import NIOCore
import Testing

/// fairway-doi against the DataCite stand-in: the real client, the real service, the catalog and the
/// broker; faults injected at the stand-in, crashes by SIGKILL.
enum Registration {
    /// The stand-in's address and credentials, fast retries and a short lease for tests.
    static func environment(_ url: String, password: String = "secret", timeout: String = "2s") -> [String: String] {
        PublishFixture.settings.merging([
            "FAIRWAY_DATACITE_URL": url, "FAIRWAY_DATACITE_USER": "fairway", "FAIRWAY_DATACITE_PASSWORD": password,
            "FAIRWAY_DATACITE_TIMEOUT": timeout, "FAIRWAY_DATACITE_RETRY_BASE": "200ms", "FAIRWAY_DATACITE_RETRY_MAX": "2s",
            "FAIRWAY_DATACITE_LEASE": "2s", "FAIRWAY_DATACITE_REQUESTS_PER_MINUTE": "600",
        ]) { $1 }
    }

    static func standIn(_ url: String, _ path: String) async throws -> Any {
        let response = try await IngestHarness.http.execute(HTTPClientRequest(url: url + path), timeout: .seconds(10))
        return try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 16 << 20)))
    }

    /// The calls the stand-in saw for DOIs (its own /_ endpoints excluded), as "METHOD".
    static func calls(_ url: String) async throws -> [(method: String, at: Double)] {
        (try await standIn(url, "/_requests") as? [[String: Any]] ?? []).compactMap { request in
            guard let method = request["method"] as? String, (request["path"] as? String)?.hasPrefix("/dois/") == true else { return nil }
            return (method, request["at"] as? Double ?? 0)
        }
    }

    /// DOI → (state, url, attributes) as the stand-in holds them.
    static func dois(_ url: String) async throws -> [String: (state: String, url: String?, attributes: [String: Any])] {
        var result: [String: (String, String?, [String: Any])] = [:]
        for (doi, document) in try await standIn(url, "/_dois") as? [String: [String: Any]] ?? [:] {
            let attributes = (document["data"] as? [String: Any])?["attributes"] as? [String: Any] ?? [:]
            result[doi] = (attributes["state"] as? String ?? "", attributes["url"] as? String, attributes)
        }
        return result
    }

    /// `fairway publish` of the issue's example (optionally retitled); returns the DOI.
    static func publish(_ harness: IngestHarness, environment: [String: String], title: String? = nil,
                        extra: [String] = []) async throws -> (doi: DOIName, status: Int32, output: String) {
        let folder = try TestEnvironment.temporaryFolder("fairway-registration")
        let file = folder.appendingPathComponent("publication.yaml")
        var text = YAMLPublicationTests.example
        if let title { text = text.replacingOccurrences(of: "title: HeLa nuclei, control condition, 3-channel confocal stacks", with: "title: \(title)") }
        try Data(text.utf8).write(to: file)
        let result = try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "hela", "--metadata", file.path, "--json"] + extra,
                                                 environment: environment)
        let line = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        guard let doi = DOIName((try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["doi"] as? String ?? "") else {
            throw TestSetupError("publish printed no DOI (exit \(result.status)): \(result.output)")
        }
        return (doi, result.status, result.output)
    }

    /// Waits until the publication is in `state` with nothing left to send; returns its row.
    @discardableResult
    static func settle(_ harness: IngestHarness, _ doi: DOIName, state: String, timeout: Duration = .seconds(40)) async throws -> [String: Any] {
        let query = """
            SELECT state, status_detail, remote_state, (synced_revision < revision OR in_flight) AS pending, field_errors::text AS problems
            FROM publications WHERE doi = '\(doi)'
            """
        let deadline = ContinuousClock.now + timeout
        while true {
            let last = try await harness.rows(query).first ?? [:]
            if last["state"] as? String == state && last["pending"] as? Bool == false { return last }
            if ContinuousClock.now >= deadline {
                throw TestSetupError("\(doi) did not settle as \(state): \(last)\n\(harness.doi?.output.suffix(4000) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    static func get(_ harness: IngestHarness, _ path: String, accept: String? = nil) async throws -> (status: UInt, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(harness.doiPort)\(path)")
        if let accept { request.headers.add(name: "Accept", value: accept) }
        let response = try await IngestHarness.http.execute(request, timeout: .seconds(30))
        return (response.status.code, String(buffer: try await response.body.collect(upTo: 4 << 20)))
    }

    /// The JSON-LD inside a landing page, parsed.
    static func jsonLD(in page: String) -> [String: Any]? {
        guard let start = page.range(of: "<script type=\"application/ld+json\">"), let end = page.range(of: "</script>", range: start.upperBound ..< page.endIndex)
        else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(page[start.upperBound ..< end.lowerBound].replacingOccurrences(of: "<\\/", with: "</").utf8)) as? [String: Any]
    }
}

@Suite("DOI registration at DataCite", .serialized)
struct RegistrationTests {
    @Test("publish → findable and doi.registered → legal hold; update re-PUTs; withdraw --delete of a findable DOI hides it (no DELETE) behind a tombstone that keeps answering")
    func lifecycle() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 3000)
            try await DataCiteClientTests.withStandIn { url in
                let environment = Registration.environment(url)
                try await harness.startRetention()
                try await harness.startDOI(environment.merging(["FAIRWAY_DATA_ACCESS_URL": "https://files.facility.example/{doi}/{path}"]) { $1 })
                let doi = try await Registration.publish(harness, environment: environment).doi
                let landing = "https://data.facility.example/datasets/\(doi)"
                let synced = try await Registration.settle(harness, doi, state: "findable")
                #expect(synced["remote_state"] as? String == "findable")

                var held = try await Registration.dois(url)
                #expect(held.count == 1 && held[doi.description]?.state == "findable" && held[doi.description]?.url == landing)
                #expect(try await Registration.calls(url).map(\.method) == ["PUT"])
                // doi.registered, once, reaches retention, which holds the study.
                #expect(try await eventually(timeout: .seconds(20)) {
                    try await harness.count("SELECT count(*) FROM retention_holds WHERE source = 'publication' AND reason LIKE '%\(doi)%'") == 1
                })
                #expect(try await harness.count("SELECT count(*) FROM outbox WHERE routing_key = 'doi.registered'") == 1)

                // `fairway object show`: the whole chain of one object, publication and hold included.
                let object = try #require(try await harness.rows("SELECT id::text AS id, checksum FROM objects WHERE logical_path LIKE '%/a.tif'").first)
                let objectID = try #require(object["id"] as? String)
                let shown = try #require(try JSONSerialization.jsonObject(with: Data(try await harness.cli("object", "show", objectID, "--json").utf8)) as? [String: Any])
                #expect(shown["path"] as? String == "scope-1/hela/a.tif" && shown["investigation"] as? String == "NUC" && shown["study"] as? String == "hela")
                let replicas = shown["replicas"] as? [[String: Any]] ?? []
                #expect(replicas.count == 1 && replicas.first?["role"] as? String == "landing" && replicas.first?["checksum"] as? String == object["checksum"] as? String)
                #expect((shown["acquisition"] as? [String: Any])?["zone"] as? String == "scope-1")
                #expect((((shown["retention"] as? [String: Any])?["holds"]) as? [[String: Any]])?.first?["source"] as? String == "publication")
                #expect((shown["publication"] as? [String: Any])?["doi"] as? String == doi.description)
                let text = try await harness.cli("object", "show", objectID)
                #expect(text.contains("path: scope-1/hela/a.tif") && text.contains("publication:") && text.contains("doi: \(doi)") && text.contains("role=landing"), "\(text)")
                #expect(try await harness.cliResult(["object", "show", UUID().uuidString]).output.contains("no object"))
                #expect(try await harness.cliResult(["object", "show", "../etc"]).status == 64)

                // An update of the metadata is sent again (PUT, 200) under the same DOI.
                let updated = try await Registration.publish(harness, environment: environment, title: "HeLa nuclei, revised")
                #expect(updated.doi == doi)
                _ = try await eventually(timeout: .seconds(20)) {
                    (try await Registration.dois(url)[doi.description]?.attributes["titles"] as? [[String: Any]])?.first?["title"] as? String == "HeLa nuclei, revised"
                }
                try await Registration.settle(harness, doi, state: "findable")
                held = try await Registration.dois(url)
                #expect(held.count == 1)
                #expect((held[doi.description]?.attributes["titles"] as? [[String: Any]])?.first?["title"] as? String == "HeLa nuclei, revised")
                #expect(try await Registration.calls(url).map(\.method) == ["PUT", "PUT"])

                let page = try await Registration.get(harness, "/datasets/\(doi)")
                #expect(page.status == 200 && page.body.contains("href=\"\(doi.url)\"") && page.body.contains("HeLa nuclei, revised"))
                let pageJSONLD = Registration.jsonLD(in: page.body)
                #expect(pageJSONLD?["@id"] as? String == doi.url)
                // Data access as configured: a link per file, and contentUrl in the JSON-LD.
                let fileURL = "https://files.facility.example/\(doi)/scope-1/hela/a.tif"
                #expect(page.body.contains("<a href=\"\(fileURL)\">scope-1/hela/a.tif</a>"), "\(page.body)")
                #expect((pageJSONLD?["distribution"] as? [[String: Any]])?.contains { $0["contentUrl"] as? String == fileURL } == true)

                // Withdrawal asking for deletion: DataCite keeps registered DOIs, so it is hidden.
                let withdrawn = try await harness.cli("withdraw", doi.description, "--reason", "Consent <withdrawn> by the donor", "--delete", environment: environment)
                #expect(withdrawn.contains("hidden instead of deleted"), "\(withdrawn)")
                let hidden = try await Registration.settle(harness, doi, state: "hidden")
                #expect(hidden["remote_state"] as? String == "registered")
                held = try await Registration.dois(url)
                #expect(held[doi.description]?.state == "registered" && held[doi.description]?.url == landing + "/withdrawn")
                #expect(try await Registration.calls(url).map(\.method) == ["PUT", "PUT", "GET", "PUT"], "never a DELETE of a registered DOI")

                for path in ["/datasets/\(doi)", "/datasets/\(doi)/withdrawn"] {
                    let tombstone = try await Registration.get(harness, path)
                    #expect(tombstone.status == 410)
                    #expect(tombstone.body.contains("Withdrawn: HeLa nuclei, revised") && tombstone.body.contains("Consent &lt;withdrawn&gt; by the donor"))
                    #expect(tombstone.body.contains("href=\"\(doi.url)\"") && tombstone.body.contains("Martin, Alice") && tombstone.body.contains("Example Imaging Facility"))
                    #expect(!tombstone.body.contains("class=\"files\"") && !tombstone.body.contains("hela/a.tif"))
                    let jsonLD = try #require(Registration.jsonLD(in: tombstone.body))
                    #expect(jsonLD["creativeWorkStatus"] as? String == "Withdrawn" && jsonLD["distribution"] == nil)
                }
                #expect(try await Registration.get(harness, "/datasets/\(doi)", accept: "application/ld+json").status == 410)

                // A withdrawn DOI is not published again; withdrawing twice changes nothing.
                let folder = try TestEnvironment.temporaryFolder("fairway-republish")
                try Data(YAMLPublicationTests.example.utf8).write(to: folder.appendingPathComponent("p.yaml"))
                let republish = try await harness.cliResult(["publish", "--investigation", "NUC", "--study", "hela", "--metadata",
                                                             folder.appendingPathComponent("p.yaml").path], environment: environment)
                #expect(republish.status == 1 && republish.output.contains("was withdrawn"), "\(republish.output)")
                #expect(try await harness.cli("withdraw", doi.description, "--reason", "again", environment: environment).contains("already withdrawn"))
            }
        }
    }

    @Test("DataCite accepts the PUT but the answer never comes: a GET reconciles it, no second PUT, exactly one DOI")
    func answerLostAfterAccept() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 2000)
            try await DataCiteClientTests.withStandIn { url in
                try await DataCiteClientTests.faults(url, #"[{"acceptThenHang": 6}]"#)
                let environment = Registration.environment(url, timeout: "1s")
                try await harness.startDOI(environment)
                let doi = try await Registration.publish(harness, environment: environment).doi
                let row = try await Registration.settle(harness, doi, state: "findable")
                #expect((row["status_detail"] as? String ?? "").contains("confirmed by asking DataCite"))
                #expect(try await Registration.calls(url).map(\.method) == ["PUT", "GET"])
                let held = try await Registration.dois(url)
                #expect(held.count == 1 && held[doi.description]?.state == "findable")
                #expect(try await harness.count("SELECT count(*) FROM outbox WHERE routing_key = 'doi.registered'") == 1)
            }
        }
    }

    @Test("the reconciler finds DataCite differing from the catalog (a DOI hidden behind Fairway's back) and sends the catalog's record again until they match")
    func reconcilerRepairsDrift() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 2000)
            try await DataCiteClientTests.withStandIn { url in
                let environment = Registration.environment(url).merging(["FAIRWAY_DATACITE_RECONCILE_INTERVAL": "1s"]) { $1 }
                try await harness.startDOI(environment)
                let doi = try await Registration.publish(harness, environment: environment).doi
                try await Registration.settle(harness, doi, state: "findable")
                // Someone hides it directly at DataCite (e.g. in Fabrica).
                let direct = DataCiteClient(baseURL: url, user: "fairway", password: "secret")
                guard case .stored(let hidden, _) = await direct.put(doi, document: DataCiteClientTests.record(doi, event: "hide")) else {
                    Issue.record("the stand-in did not take the hide"); return
                }
                #expect(hidden.state == "registered")
                #expect(try await eventually(timeout: .seconds(30)) {
                    try await Registration.dois(url)[doi.description]?.state == "findable"
                }, "the reconciler put it back")
                let row = try await Registration.settle(harness, doi, state: "findable")
                #expect(row["remote_state"] as? String == "findable")
                let methods = try await Registration.calls(url).map(\.method)
                // Ours, the direct hide, ours again after a GET found the difference; the rest are checks.
                #expect(methods.filter { $0 == "PUT" }.count == 3 && Set(methods) == ["PUT", "GET"], "\(methods)")
                #expect(try await Registration.dois(url).count == 1)
            }
        }
    }

    @Test("SIGKILL of fairway-doi between DataCite's 201 and the local commit: the restarted service reconciles, one DOI, one doi.registered")
    func killedBetweenAnswerAndCommit() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 2000)
            try await DataCiteClientTests.withStandIn { url in
                // DataCite stores the DOI, then holds its 201 back: the service is killed while waiting.
                try await DataCiteClientTests.faults(url, #"[{"acceptThenHang": 60}]"#)
                let environment = Registration.environment(url, timeout: "60s")
                try await harness.startRetention()   // doi.registered is routed to its queue
                try await harness.startDOI(environment)
                let doi = try await Registration.publish(harness, environment: environment).doi
                #expect(try await eventually(timeout: .seconds(20)) { try await Registration.dois(url)[doi.description]?.state == "findable" })
                #expect(try await harness.count("SELECT count(*) FROM publications WHERE in_flight AND state = 'registering'") == 1)
                await harness.stopDOI(kill: true)
                #expect(try await harness.count("SELECT count(*) FROM publications WHERE state = 'findable'") == 0, "the 201 was never recorded")

                try await harness.startDOI(environment)
                try await Registration.settle(harness, doi, state: "findable")
                #expect(try await Registration.calls(url).map(\.method) == ["PUT", "GET"])
                #expect(try await Registration.dois(url).count == 1)
                var relayed = 0
                for _ in 0 ..< 100 where relayed == 0 {
                    relayed = try await harness.count("SELECT count(*) FROM outbox WHERE routing_key = 'doi.registered' AND sent_at IS NOT NULL")
                    try await Task.sleep(for: .milliseconds(100))
                }
                let outbox = try await harness.rows("SELECT routing_key, producer, sent_at::text AS s, last_error FROM outbox")
                #expect(relayed == 1, "\(outbox)")
                #expect(try await eventually(timeout: .seconds(20)) {
                    try await harness.count("SELECT count(*) FROM retention_holds WHERE source = 'publication'") == 1
                })
            }
        }
    }

    @Test("429 with Retry-After, then 503: backs off at least as asked, reconciles after the 5xx, registers once")
    func rateLimitedThenUnavailable() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 2000)
            try await DataCiteClientTests.withStandIn { url in
                try await DataCiteClientTests.faults(url, #"[{"status": 429, "retryAfter": 2}, {"status": 503}]"#)
                let environment = Registration.environment(url)
                try await harness.startDOI(environment)
                let doi = try await Registration.publish(harness, environment: environment).doi
                try await Registration.settle(harness, doi, state: "findable")
                let calls = try await Registration.calls(url)
                // 429 (not acted on) → wait ≥ Retry-After → PUT answered 503 (may have acted) → GET (404) → PUT.
                #expect(calls.map(\.method) == ["PUT", "PUT", "GET", "PUT"])
                #expect(calls.count == 4 && calls[1].at - calls[0].at >= 1.9, "Retry-After honoured")
                #expect(try await Registration.dois(url).count == 1)
            }
        }
    }

    @Test("401: no retry, the publication says why, `fairway status` shows the alert; a restart with working credentials registers and clears it")
    func refusedCredentials() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 2000)
            try await DataCiteClientTests.withStandIn { url in
                let wrong = Registration.environment(url, password: "wrong")
                try await harness.startDOI(wrong)
                let doi = try await Registration.publish(harness, environment: wrong).doi
                #expect(try await eventually(timeout: .seconds(20)) {
                    try await harness.count("SELECT count(*) FROM service_alerts WHERE kind = 'datacite-credentials' AND cleared_at IS NULL") == 1
                })
                try await Task.sleep(for: .seconds(3))
                #expect(try await Registration.calls(url).map(\.method) == ["PUT"], "no retry after 401")
                let row = try #require(try await harness.rows("SELECT state, status_detail FROM publications").first)
                #expect(row["state"] as? String == "reserved")
                #expect((row["status_detail"] as? String ?? "").contains("FAIRWAY_DATACITE_PASSWORD"))

                let status = try await harness.cliResult(["status", "--json"], environment: wrong)
                #expect(status.status == 2)
                let report = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any], "\(status.output)")
                let alerts = report["alerts"] as? [[String: Any]] ?? []
                #expect(alerts.contains { ($0["message"] as? String ?? "").contains("DataCite refused the credentials") })
                #expect(((report["datacite"] as? [String: Any])?["pending"] as? Int) == 1)
                let text = try await harness.cliResult(["status"], environment: wrong).output
                #expect(text.contains("doi/datacite-credentials") && text.contains("1 waiting to sync"), "\(text)")

                await harness.stopDOI()
                try await harness.startDOI(Registration.environment(url))
                try await Registration.settle(harness, doi, state: "findable")
                #expect(try await harness.count("SELECT count(*) FROM service_alerts WHERE cleared_at IS NULL") == 0)
            }
        }
    }

    @Test("422 from DataCite: the problems are stored per field and shown by `publish --wait` and `publication show`; publishing again registers")
    func refusedMetadata() async throws {
        try await IngestHarness.with { harness in
            try await PublishFixture.registerStudy(harness, fileBytes: 2000)
            try await DataCiteClientTests.withStandIn { url in
                try await DataCiteClientTests.faults(url, #"[{"status": 422, "errors": [{"source": "creators", "title": "Name identifier 0000-0002-1825-0097 is not registered"}]}]"#)
                let environment = Registration.environment(url)
                try await harness.startDOI(environment)
                let refused = try await Registration.publish(harness, environment: environment, extra: ["--wait", "30"])
                #expect(refused.status == 1)
                #expect(refused.output.contains("Name identifier 0000-0002-1825-0097 is not registered") && refused.output.contains("\"field\":\"creators\""), "\(refused.output)")
                let row = try await Registration.settle(harness, refused.doi, state: "failed")
                #expect((row["problems"] as? String ?? "").contains("not registered"))
                let shown = try await harness.cli("publication", "show", refused.doi.description, environment: environment)
                #expect(shown.contains("state: failed") && shown.contains("problem: creators: Name identifier 0000-0002-1825-0097 is not registered"), "\(shown)")

                let fixed = try await Registration.publish(harness, environment: environment, extra: ["--wait", "30"])
                #expect(fixed.status == 0 && fixed.doi == refused.doi, "\(fixed.output)")
                try await Registration.settle(harness, fixed.doi, state: "findable")
                #expect(try await Registration.dois(url).count == 1)
            }
        }
    }

    @Test("without DataCite settings the service runs, keeps publications reserved and says what to configure; POST /v1/publications for owners only, problems per field; a draft left at DataCite is deleted on withdrawal")
    func unconfiguredAndCatalogAPI() async throws {
        try await IngestHarness.with(started: false) { harness in
            // The catalog API reads the same settings as the CLI.
            try await harness.start(environment: PublishFixture.settings)
            try await PublishFixture.registerStudy(harness, fileBytes: 2000)
            try await harness.startDOI(PublishFixture.settings)

            let good = try JSONSerialization.jsonObject(with: Data(PublicationRecordTests.example.utf8))
            func post(_ body: [String: Any]) async throws -> IngestHarness.Answer {
                try await harness.request(.POST, "/v1/publications", body: Array(try JSONSerialization.data(withJSONObject: body)))
            }
            let notOwner = try await post(["investigation": "NUC", "study": "hela", "publication": good])
            #expect(notOwner.status == 403, "\(notOwner.text)")
            try await harness.cli("member", "set", "--investigation", "NUC", "test-watcher", "--role", "owner")
            #expect(try await harness.cli("member", "list", "--investigation", "NUC").contains("test-watcher  owner"))

            let bad = try await post(["investigation": "NUC", "study": "hela",
                                      "publication": ["title": "", "description": "d", "creators": [["name": "Martin, Alice", "orcid": "0000-0002-1825-0098"]], "license": "nope"]])
            #expect(bad.status == 422)
            let fields = (bad.body["problems"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields.contains("title") && fields.contains("creators[0].orcid") && fields.contains("license"), "\(bad.text)")
            for hostile in [#"{"investigation": "NUC"}"#, "[1]", #"{"investigation": "NUC", "study": "hela", "publication": "x"}"#,
                            #"{"investigation": "NUC", "study": "hela", "publication": {}, "extra": 1}"#, "\u{0}"] {
                let answer = try await harness.request(.POST, "/v1/publications", body: Array(hostile.utf8))
                #expect(answer.status == 400, "\(hostile): \(answer.text)")
            }
            #expect(try await post(["investigation": "NUC", "study": "nope", "publication": good]).status == 404)
            #expect(try await harness.request(.POST, "/v1/publications", body: Array("{}".utf8), token: nil).status == 401)

            let accepted = try await post(["investigation": "NUC", "study": "hela", "publication": good])
            #expect(accepted.status == 202, "\(accepted.text)")
            let doi = try #require(DOIName(accepted.body["doi"] as? String ?? ""))
            #expect(accepted.body["state"] as? String == "reserved")

            #expect(try await eventually(timeout: .seconds(40)) {
                (try await harness.rows("SELECT status_detail FROM publications").first?["status_detail"] as? String ?? "")
                    .contains("DataCite is not configured: set FAIRWAY_DATACITE_URL, FAIRWAY_DATACITE_USER, FAIRWAY_DATACITE_PASSWORD")
            })
            let view = try await harness.request(.GET, "/v1/publications/\(doi)")
            #expect(view.status == 200 && view.body["state"] as? String == "reserved" && view.body["pending"] as? Bool == true)
            #expect((view.body["detail"] as? String ?? "").contains("DataCite is not configured"))
            let status = try await harness.cliResult(["status"], environment: PublishFixture.settings)
            #expect(status.output.contains("doi/datacite-unconfigured") && status.output.contains("reserved 1"), "\(status.output)")
            let page = try await Registration.get(harness, "/datasets/\(doi)")
            #expect(page.status == 200 && page.body.contains("on request from Example Imaging Facility"), "the landing page works already")

            // A call that died with DataCite holding a draft (simulated: in flight here, a draft
            // there): withdrawal deletes the draft, the only kind DataCite lets go.
            try await DataCiteClientTests.withStandIn { url in
                let direct = DataCiteClient(baseURL: url, user: "fairway", password: "secret")
                guard case .stored(let draft, _) = await direct.put(doi, document: DataCiteClientTests.record(doi, event: nil)) else {
                    Issue.record("no draft"); return
                }
                #expect(draft.state == "draft")
                #expect(try await harness.count("WITH u AS (UPDATE publications SET in_flight = true RETURNING 1) SELECT count(*) FROM u") == 1)
                let withdrawn = try await harness.cli("withdraw", doi.description, "--reason", "duplicate of another study")
                #expect(withdrawn.contains("a draft there is deleted"), "\(withdrawn)")
                await harness.stopDOI()
                try await harness.startDOI(Registration.environment(url))
                try await Registration.settle(harness, doi, state: "withdrawn")
                #expect(try await Registration.dois(url).isEmpty)
                #expect(try await Registration.calls(url).map(\.method) == ["PUT", "GET", "DELETE"])
                #expect(try await Registration.get(harness, "/datasets/\(doi)").status == 410)
            }
        }
    }
}
