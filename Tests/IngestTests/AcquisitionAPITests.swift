import FairwayContracts
import FairwayStorage
import Glibc
import NIOCore
import FairwayTestSupport
import Foundation
import Testing

/// `POST /v1/acquisitions` and the catalog views, against the real fairway-ingest, PostgreSQL and RabbitMQ.
@Suite(.serialized) struct AcquisitionAPITests {
    @Test func aPostedFileIsRegisteredInPlaceWithItsChecksumAndAnnounced() async throws {
        try await IngestHarness.with { ingest in
            let file = try ingest.write("2026-11-02_NUC/img001.tif", IngestHarness.randomBytes(300_000))
            let answer = try await ingest.post([
                "zone": "scope-1", "path": "2026-11-02_NUC/img001.tif", "owner": "amartin", "investigation": "NUC",
                "study": "hela-screen", "assay": "plate-1", "instrument": "LSM980", "acquiredAt": "2026-11-02T09:14:00Z",
                "metadata": ["Staining": "DAPI"],
            ])
            #expect(answer.status == 202, "\(answer.text) \(ingest.serviceLog.suffix(3000))")
            #expect(answer.body["state"] as? String == "pending")
            let id = try #require(answer.body["id"] as? String)

            let view = try await ingest.settled(id)
            #expect(view["state"] as? String == "registered", "\(view)")
            #expect(view["investigation"] as? String == "NUC")
            #expect(view["study"] as? String == "hela-screen")
            #expect(view["assay"] as? String == "plate-1")
            #expect(view["owner"] as? String == "amartin")
            #expect(view["instrument"] as? String == "LSM980")
            let objects = try #require(view["objects"] as? [[String: Any]])
            #expect(objects.count == 1)
            let object = try #require(objects.first)
            let expected = try await independentChecksum(file)
            #expect(object["sha2"] as? String == expected)
            #expect(object["size"] as? Int == 300_000)
            #expect(object["path"] as? String == "scope-1/2026-11-02_NUC/img001.tif")
            #expect((object["stage"] as? [String: Bool])?["registered"] == true)
            #expect((object["stage"] as? [String: Bool])?["converted"] == false)

            // Registered in place: the replica is the file itself, untouched.
            let objectID = try #require(object["id"] as? String)
            let detail = try await ingest.request(.GET, "/v1/objects/\(objectID)")
            let replicas = try #require(detail.body["replicas"] as? [[String: Any]])
            #expect(replicas.count == 1)
            #expect(replicas.first?["physicalPath"] as? String == file.resolvingSymlinksInPath().path)
            #expect(replicas.first?["sha2"] as? String == expected)
            let annotations = try #require(detail.body["annotations"] as? [[String: Any]])
            #expect(annotations.contains { $0["namespace"] as? String == "user" && $0["key"] as? String == "Staining" && $0["value"] as? String == "DAPI" })

            // Announced once, with the catalog's facts.
            let messages = try await ingest.waitForMessages(1)
            #expect(messages.count == 1)
            let message = try #require(messages.first)
            #expect(message.payload.objectID.uuidString.lowercased() == objectID)
            #expect(message.payload.checksum == expected)
            #expect(message.payload.physicalPath == file.resolvingSymlinksInPath().path)
            #expect(message.payload.resource == "scope-1")
            #expect(message.payload.version == 1)

            // Posting the same acquisition again: same id, 200, no second object or message.
            let again = try await ingest.post(["zone": "scope-1", "path": "2026-11-02_NUC//img001.tif"])
            #expect(again.status == 200, "\(again.text)")
            #expect(again.body["id"] as? String == id)
            _ = try await ingest.settled(id)
            #expect(try await ingest.count("SELECT count(*)::int FROM objects") == 1)
            try await Task.sleep(for: .milliseconds(500))
            #expect(await ingest.registeredMessages().count == 1)
        }
    }

    @Test func aFolderIsOneAcquisitionAndOddNamesAreRecordedExactly() async throws {
        try await IngestHarness.with { ingest in
            try ingest.write("run-7/plate-1/a.tif", Array("first".utf8))
            try ingest.write("run-7/plate-1/b c (copy)\nnew.tif", Array("second".utf8))
            try ingest.write("run-7/.partial.tif", Array("hidden".utf8))
            // A Latin-1 name, as Windows acquisition PCs write them onto shares: not UTF-8.
            let latin1: [UInt8] = Array("run-7/caf".utf8) + [0xE9] + Array(".tif".utf8)
            let fd = (Array(ingest.landing.path.utf8) + [UInt8(ascii: "/")] + latin1).map { CChar(bitPattern: $0) } + [0]
            let handle = open(fd, O_WRONLY | O_CREAT, 0o644)
            #expect(handle >= 0)
            _ = write(handle, "third", 5)
            close(handle)
            try FileManager.default.createSymbolicLink(atPath: ingest.landing.path + "/run-7/link.tif", withDestinationPath: "/etc/passwd")

            let answer = try await ingest.post(["zone": "scope-1", "path": "run-7"])
            #expect(answer.status == 202, "\(answer.text)")
            let view = try await ingest.settled(try #require(answer.body["id"] as? String))
            #expect(view["state"] as? String == "registered", "\(view)")
            #expect(view["kind"] as? String == "folder")
            #expect(view["fileCount"] as? Int == 3, "hidden files and symbolic links are not part of the acquisition")
            #expect(view["skippedEntries"] as? Int == 1)
            #expect(view["investigation"] as? String == "run-7")
            let paths = Set(((view["objects"] as? [[String: Any]]) ?? []).compactMap { $0["path"] as? String })
            #expect(paths == ["scope-1/run-7/plate-1/a.tif", "scope-1/run-7/plate-1/b c (copy)\nnew.tif", "scope-1/run-7/caf\\xE9.tif"])

            let raw = try await ingest.database.withClient { client throws in
                var found: [UInt8] = []
                for try await bytes in try await client.query("SELECT physical_path_bytes FROM replicas WHERE physical_path_bytes IS NOT NULL").decode(ByteBuffer.self) {
                    found = Array(bytes.readableBytesView)
                }
                return found
            }
            #expect(raw == Array(ingest.landing.resolvingSymlinksInPath().path.utf8) + [UInt8(ascii: "/")] + latin1)
            let messages = try await ingest.waitForMessages(3)
            let latinMessage = messages.first { $0.payload.logicalPath.hasSuffix("caf\\xE9.tif") }
            #expect(latinMessage?.payload.physicalPathBytes.flatMap { Data(base64Encoded: $0) }.map(Array.init) == raw)
        }
    }

    @Test func aFileRewrittenAfterRegistrationBecomesANewVersion() async throws {
        try await IngestHarness.with { ingest in
            try ingest.write("a/b/c/img.tif", Array("version one".utf8))
            let first = try await ingest.post(["zone": "scope-1", "path": "a/b/c/img.tif"])
            let id = try #require(first.body["id"] as? String)
            _ = try await ingest.settled(id)
            let oldChecksum = FairwayChecksum.of(Array("version one".utf8))

            try await Task.sleep(for: .milliseconds(20))
            let file = try ingest.write("a/b/c/img.tif", Array("version two, longer".utf8))
            let again = try await ingest.post(["zone": "scope-1", "path": "a/b/c/img.tif"])
            #expect(again.status == 200)
            #expect(again.body["id"] as? String == id)
            let view = try await ingest.settled(id)
            let object = try #require((view["objects"] as? [[String: Any]])?.first)
            #expect(object["version"] as? Int == 2)
            #expect(object["sha2"] as? String == (try await independentChecksum(file)))
            let detail = try await ingest.request(.GET, "/v1/objects/\(try #require(object["id"] as? String))")
            let versions = try #require(detail.body["versions"] as? [[String: Any]])
            #expect(versions.map { $0["sha2"] as? String } == [oldChecksum, object["sha2"] as? String])
            #expect(try await ingest.count("SELECT count(*)::int FROM objects") == 1)
            let messages = try await ingest.waitForMessages(2)
            #expect(messages.map(\.payload.version) == [1, 2])
        }
    }

    @Test func everyRefusalHasItsStatusAndLeavesTheCatalogUnchanged() async throws {
        try await IngestHarness.with { ingest in
            try ingest.write("ok/img.tif", Array("x".utf8))
            let outside = FileManager.default.temporaryDirectory.appendingPathComponent("outside-\(UUID().uuidString.prefix(6)).tif")
            try Data("secret".utf8).write(to: outside)
            try FileManager.default.createSymbolicLink(atPath: ingest.landing.path + "/escape.tif", withDestinationPath: outside.path)
            try FileManager.default.createSymbolicLink(atPath: ingest.landing.path + "/escape-dir", withDestinationPath: "/etc")
            try await ingest.cli("zone", "add", "scope-2", "--path", FileManager.default.temporaryDirectory.path)
            let otherToken = try await ingest.createToken(zone: "scope-2")
            let revoked = try await ingest.createToken(zone: "scope-1")
            try await ingest.cli("token", "revoke", revoked)

            func expectRefusal(_ status: Int, _ answer: IngestHarness.Answer, _ comment: Comment) {
                #expect(answer.status == status, "\(comment): \(answer.text)")
                #expect(answer.body["error"] is String && answer.body["detail"] is String, "\(comment): JSON error body: \(answer.text)")
            }
            let valid: [String: Any] = ["zone": "scope-1", "path": "ok/img.tif"]
            let json = { (text: String) in Array(text.utf8) }

            // 400: the body itself is wrong.
            for (body, why) in [
                (json("{not json"), "invalid JSON"), (json("42"), "not an object"), (json("\"text\""), "a string"), (json(""), "empty body"),
                (json(#"{"zone":"scope-1"}"#), "path missing"), (json(#"{"path":"ok/img.tif"}"#), "zone missing"),
                (json(#"{"zone":"scope-1","path":17}"#), "path not a string"),
                (json(#"{"zone":"../etc","path":"ok/img.tif"}"#), "zone not a name"),
                (json(#"{"zone":"scope-1","path":"ok/img.tif","schema":2}"#), "future schema"),
                (json(#"{"zone":"scope-1","path":"ok/img.tif","acquiredAt":"yesterday"}"#), "bad date"),
                (json(#"{"zone":"scope-1","path":"ok/img.tif","investigation":"a b"}"#), "bad investigation name"),
                (json(#"{"zone":"scope-1","path":"ok/img.tif","metadata":{"k":1}}"#), "metadata value not a string"),
                (json(#"{"zone":"scope-1","path":"ok\u0000img.tif"}"#), "NUL in path"),
                ([0xFF, 0xFE, 0x7B, 0x7D], "not UTF-8"),
            ] {
                expectRefusal(400, try await ingest.request(.POST, "/v1/acquisitions", body: body), Comment(rawValue: why))
            }
            // 401: no token, a wrong one, a revoked one, the wrong scheme.
            expectRefusal(401, try await ingest.post(valid, token: nil), "no token")
            expectRefusal(401, try await ingest.post(valid, token: "fwt_not-a-real-token"), "unknown token")
            expectRefusal(401, try await ingest.post(valid, token: revoked), "revoked token")
            expectRefusal(401, try await ingest.request(.POST, "/v1/acquisitions", body: json("{}"), token: nil,
                                                       headers: [("Authorization", "Basic dXNlcjpwYXNz")]), "basic auth")
            expectRefusal(401, try await ingest.request(.GET, "/v1/objects", token: nil), "reads need a token too")
            // 403: a token of another zone.
            expectRefusal(403, try await ingest.post(valid, token: otherToken), "token for scope-2")
            // 404: no such zone, no such path.
            expectRefusal(404, try await ingest.post(["zone": "scope-9", "path": "ok/img.tif"]), "unknown zone")
            expectRefusal(404, try await ingest.post(["zone": "scope-1", "path": "ok/missing.tif"]), "missing file")
            expectRefusal(404, try await ingest.request(.GET, "/v1/acquisitions/\(UUID())"), "unknown acquisition")
            // 413: too large.
            let huge = Array(#"{"zone":"scope-1","path":"ok/img.tif","metadata":{"k":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 2 << 20) + Array(#""}}"#.utf8)
            expectRefusal(413, try await ingest.request(.POST, "/v1/acquisitions", body: huge), "2 MiB body")
            // 422: paths that leave the zone.
            for (path, why) in [("../etc/passwd", "parent reference"), ("ok/../../etc/passwd", "nested parent reference"),
                                ("/etc/passwd", "absolute path"), ("escape.tif", "symlink to a file outside"),
                                ("escape-dir/passwd", "symlink to a folder outside")] {
                expectRefusal(422, try await ingest.post(["zone": "scope-1", "path": path]), Comment(rawValue: why))
            }

            #expect(try await ingest.count("SELECT count(*)::int FROM acquisitions") == 0, "nothing was recorded")
            #expect(try await ingest.count("SELECT count(*)::int FROM objects") == 0)
            #expect(try await ingest.count("SELECT count(*)::int FROM investigations") == 0)
            // And the service still works.
            #expect(try await ingest.post(valid).status == 202)
            try? FileManager.default.removeItem(at: outside)
        }
    }

    @Test func aBatchAnswersEachItemAsItWouldAlone() async throws {
        try await IngestHarness.with { ingest in
            try ingest.write("b/one.tif", Array("1".utf8))
            try ingest.write("b/two.tif", Array("2".utf8))
            let body = Array("""
                [{"zone": "scope-1", "path": "b/one.tif"}, {"zone": "scope-1", "path": "b/../../x"}, 17,
                 {"zone": "scope-1", "path": "b/missing.tif"}, {"zone": "scope-1", "path": "b/two.tif", "metadata": {"k": 1}},
                 {"zone": "scope-1", "path": "b/two.tif"}, {"zone": "scope-2", "path": "b/two.tif"}]
                """.utf8)
            let answer = try await ingest.request(.POST, "/v1/acquisitions", body: body)
            #expect(answer.status == 200, "\(answer.text)")
            let results = try #require(answer.body["results"] as? [[String: Any]])
            #expect(results.map { $0["status"] as? Int } == [202, 422, 400, 404, 400, 202, 404])
            #expect(results.allSatisfy { ($0["status"] as? Int ?? 0) < 300 ? $0["id"] is String : $0["detail"] is String })
            let again = try await ingest.request(.POST, "/v1/acquisitions", body: Array(#"[{"zone": "scope-1", "path": "b/one.tif"}]"#.utf8))
            let first = try #require((again.body["results"] as? [[String: Any]])?.first)
            #expect(first["id"] as? String == results[0]["id"] as? String)
            #expect(try await ingest.count("SELECT count(*)::int FROM acquisitions") == 2)
            _ = try await ingest.waitForMessages(2)
            // Whole-request refusals.
            #expect(try await ingest.request(.POST, "/v1/acquisitions", body: Array("[]".utf8)).status == 400)
            let tooMany = "[" + Array(repeating: #"{"zone": "scope-1", "path": "b/one.tif"}"#, count: 1001).joined(separator: ",") + "]"
            #expect(try await ingest.request(.POST, "/v1/acquisitions", body: Array(tooMany.utf8)).status == 400)
            #expect(try await ingest.request(.POST, "/v1/acquisitions", body: Array("[1,".utf8)).status == 400)
            #expect(try await ingest.request(.POST, "/v1/acquisitions", body: Array("[]".utf8), token: "fwt_nope").status == 401)
        }
    }

    @Test func objectsArePagedAndFilteredByISAHierarchy() async throws {
        try await IngestHarness.with { ingest in
            for index in 0 ..< 5 { try ingest.write("inv/s1/a1/f\(index).tif", [UInt8(index)]) }
            for index in 0 ..< 3 { try ingest.write("inv/s2/a1/g\(index).tif", [UInt8(index), 1]) }
            for folder in ["inv/s1/a1", "inv/s2/a1"] {
                let answer = try await ingest.post(["zone": "scope-1", "path": folder])
                _ = try await ingest.settled(try #require(answer.body["id"] as? String))
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await ingest.request(.GET, "/v1/objects?investigation=inv&study=s1&limit=2" + (cursor.map { "&after=\($0)" } ?? ""))
                #expect(page.status == 200, "\(page.text)")
                let objects = page.body["objects"] as? [[String: Any]] ?? []
                #expect(objects.count <= 2)
                seen += objects.compactMap { $0["path"] as? String }
                cursor = page.body["next"] as? String
            } while cursor != nil
            #expect(seen.sorted() == (0 ..< 5).map { "scope-1/inv/s1/a1/f\($0).tif" })
            let s2 = try await ingest.request(.GET, "/v1/objects?study=s2")
            #expect((s2.body["objects"] as? [[String: Any]])?.count == 3)
            #expect(try await ingest.request(.GET, "/v1/objects?limit=0").status == 400)
            #expect(try await ingest.request(.GET, "/v1/objects?investigation=a%20b").status == 400)
        }
    }

    @Test("token scopes: a watcher token (the default, acquire) posts and follows its acquisitions but reads no catalog route and cannot publish; a read token reads its zone only and cannot post; scopes are listed, and unknown ones refused")
    func tokenScopesLimitWhatATokenMayDo() async throws {
        try await IngestHarness.with { ingest in
            try ingest.write("scoped/img.tif", IngestHarness.randomBytes(512))
            let watcherOutput = try await ingest.cli("token", "create", "--zone", ingest.zone, "--label", "scope-watcher")
            let watcher = try #require(watcherOutput.split(separator: "\n").first { $0.hasPrefix("fwt_") }.map(String.init), "\(watcherOutput)")
            #expect(watcherOutput.contains("may post acquisitions)"), "\(watcherOutput)")
            let readerOutput = try await ingest.cli("token", "create", "--zone", ingest.zone, "--label", "scope-reader", "--scope", "read")
            let reader = try #require(readerOutput.split(separator: "\n").first { $0.hasPrefix("fwt_") }.map(String.init), "\(readerOutput)")

            // The watcher posts and sees the state of what it posted.
            let posted = try await ingest.post(["zone": ingest.zone, "path": "scoped"], token: watcher)
            #expect(posted.status == 202, "\(posted.text)")
            let id = try #require(posted.body["id"] as? String)
            _ = try await ingest.settled(id)
            #expect(try await ingest.request(.GET, "/v1/acquisitions/\(id)", token: watcher).status == 200)
            let object = try #require(try await ingest.rows("SELECT id::text AS id FROM objects LIMIT 1").first?["id"] as? String)

            // ...and nothing else: every catalog route and the publication routes are 403, saying which scope is missing.
            for path in ["/v1/objects", "/v1/objects/\(object)", "/v1/objects/\(object)/content", "/v1/search?q=img",
                         "/v1/publications/10.5072/x"] {
                let answer = try await ingest.request(.GET, path, token: watcher)
                #expect(answer.status == 403, "\(path): \(answer.text)")
                #expect(answer.body["error"] as? String == "scope missing" && (answer.body["detail"] as? String)?.contains("its scopes: acquire") == true,
                        "\(path): \(answer.text)")
            }
            let publish = try await ingest.request(.POST, "/v1/publications", body: Array(#"{"investigation":"x","study":"y","publication":{}}"#.utf8), token: watcher)
            #expect(publish.status == 403 && (publish.body["detail"] as? String)?.contains("--scope publish") == true, "\(publish.text)")

            // The reader reads its zone but may not post.
            let objects = try await ingest.request(.GET, "/v1/objects", token: reader)
            #expect(objects.status == 200 && (objects.body["objects"] as? [Any])?.count == 1, "\(objects.text)")
            #expect(try await ingest.request(.GET, "/v1/objects/\(object)/content", token: reader).status == 200)
            let readerPost = try await ingest.post(["zone": ingest.zone, "path": "scoped"], token: reader)
            #expect(readerPost.status == 403 && (readerPost.body["detail"] as? String)?.contains("may not post acquisitions") == true, "\(readerPost.text)")
            // Nothing was written by the refused requests.
            #expect(try await ingest.count("SELECT count(*)::int FROM acquisitions") == 1)

            // The listing shows the scopes; a scope that does not exist is refused before anything is stored.
            let list = try await ingest.cli("token", "list", "--json")
            let start = try #require(list.firstIndex(of: "["), "\(list)"), end = try #require(list.lastIndex(of: "]"), "\(list)")
            let tokens = try #require(try JSONSerialization.jsonObject(with: Data(list[start...end].utf8)) as? [[String: Any]], "\(list)")
            #expect(tokens.first { $0["label"] as? String == "scope-watcher" }?["scopes"] as? String == "acquire")
            #expect(tokens.first { $0["label"] as? String == "scope-reader" }?["scopes"] as? String == "read")
            #expect(tokens.first { $0["label"] as? String == "test-watcher" }?["scopes"] as? String == "acquire,read,publish")
            let bad = try await ingest.cliResult(["token", "create", "--zone", ingest.zone, "--scope", "admin"])
            #expect(bad.status == 64 && bad.output.contains("unknown scope 'admin'"), "\(bad.output)")
            #expect(try await ingest.count("SELECT count(*)::int FROM watcher_tokens") == 3)
        }
    }
}


enum FairwayChecksum {
    static func of(_ bytes: [UInt8]) -> String { FileInspection.checksum(of: bytes) }
}
