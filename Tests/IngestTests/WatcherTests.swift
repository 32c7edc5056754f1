import FairwayContracts
import FairwayTestSupport
import Foundation
import Testing

/// `fairway watch`: the reference watcher, end to end through the HTTP API.
@Suite(.serialized) struct WatcherTests {
    func watch(_ ingest: IngestHarness, state: URL, extra: [String] = []) throws -> ChildProcess {
        let tokenFile = ingest.landing.deletingLastPathComponent().appendingPathComponent("token-\(ingest.port)")
        try Data(ingest.token.utf8).write(to: tokenFile)
        return try ChildProcess(try TestEnvironment.executable("fairway"), [
            "watch", ingest.landing.path, "--zone", ingest.zone, "--url", "http://127.0.0.1:\(ingest.port)",
            "--token-file", tokenFile.path, "--state", state.path, "--quiet", "0", "--interval", "200ms",
        ] + extra)
    }

    @Test func theWatcherPostsEveryFileOnceAndARestartPostsNothing() async throws {
        try await IngestHarness.with { ingest in
            var files: [URL] = []
            for index in 0 ..< 20 { files.append(try ingest.write("2026-11-02_NUC/img\(index).tif", IngestHarness.randomBytes(4096 + index))) }
            let state = ingest.landing.deletingLastPathComponent().appendingPathComponent("watch-state-\(ingest.port).jsonl")

            let first = try watch(ingest, state: state, extra: ["--once"])
            #expect(await first.status() == 0, "\(first.output)")
            #expect(first.output.contains("posted 20 (20 new, 0 already known)"), "\(first.output)")

            let messages = try await ingest.waitForMessages(20)
            #expect(Set(messages.map(\.payload.objectID)).count == 20)
            // Every checksum in the catalog matches an independent SHA-256 of the file.
            for file in files {
                let path = "scope-1/2026-11-02_NUC/" + file.lastPathComponent
                let message = try #require(messages.first { $0.payload.logicalPath == path })
                #expect(message.payload.checksum == (try await independentChecksum(file)), "\(path)")
            }

            // A restart with the same state file posts nothing; a new file is posted alone. Lines
            // cut short by a crash, or otherwise unreadable, are skipped without losing the others.
            let handle = try FileHandle(forWritingTo: state)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("{not json\n\u{0}\u{1}garbage\n{\"path\": 5}\n{\"path\": \"x\", \"signa".utf8) + Data([0xFF, 0x0A]))
            try handle.close()
            try ingest.write("2026-11-02_NUC/late.tif", IngestHarness.randomBytes(100))
            let second = try watch(ingest, state: state, extra: ["--once"])
            #expect(await second.status() == 0, "\(second.output)")
            #expect(second.output.contains("posted 1 (1 new, 0 already known)"), "\(second.output)")
            #expect(second.output.contains("unchanged since last post: 20"), "\(second.output)")
            _ = try await ingest.waitForMessages(21)
            #expect(try await ingest.count("SELECT count(*)::int FROM acquisitions") == 21)
            #expect(try await ingest.count("SELECT count(*)::int FROM objects") == 21)
        }
    }

    @Test func aRunningWatcherIsWokenByInotifyNotItsTimer() async throws {
        try await IngestHarness.with { ingest in
            let state = ingest.landing.deletingLastPathComponent().appendingPathComponent("watch-state-\(ingest.port).jsonl")
            // A one-minute scan interval: anything posted within seconds was seen through inotify.
            let watcher = try watch(ingest, state: state, extra: ["--interval", "60s"])
            try await Task.sleep(for: .seconds(1))
            let file = try ingest.write("live/new-folder/img.tif", IngestHarness.randomBytes(1000))
            try await Task.sleep(for: .milliseconds(300))
            try ingest.write("live/second.tif", IngestHarness.randomBytes(10))
            let messages = try await ingest.waitForMessages(2, timeout: .seconds(15))
            #expect(Set(messages.map(\.payload.logicalPath)) == ["scope-1/live/new-folder/img.tif", "scope-1/live/second.tif"],
                    "\(watcher.output)")
            #expect(messages.first { $0.payload.logicalPath.hasSuffix("img.tif") }?.payload.checksum == (try await independentChecksum(file)))
            watcher.terminate()
            _ = await watcher.status()
        }
    }

    @Test func theWatcherRetriesWhileTheServerIsDown() async throws {
        try await IngestHarness.with(started: false) { ingest in
            try ingest.write("run/a.tif", Array("a".utf8))
            try ingest.write("run/b.tif", Array("b".utf8))
            let state = ingest.landing.deletingLastPathComponent().appendingPathComponent("watch-state-\(ingest.port).jsonl")
            let watcher = try watch(ingest, state: state, extra: ["--once"])
            try await Task.sleep(for: .seconds(7))   // posts fail: nothing listens yet
            try await ingest.start()
            #expect(await watcher.status() == 0, "\(watcher.output)")
            #expect(watcher.output.contains("retrying"), "\(watcher.output)")
            #expect(watcher.output.contains("posted 2 (2 new"), "\(watcher.output)")
            #expect(try await ingest.waitForMessages(2).count == 2)
        }
    }

    @Test func aFileStillBeingWrittenIsRegisteredOnlyOnceAtRestWithItsFinalChecksum() async throws {
        try await IngestHarness.with(quietPeriod: "1s") { ingest in
            let file = try ingest.write("growing/stack.tif", IngestHarness.randomBytes(10_000))
            let answer = try await ingest.post(["zone": "scope-1", "path": "growing/stack.tif"])
            let id = try #require(answer.body["id"] as? String)
            // Appended to every 300 ms for 3 s: never quiet for a whole second.
            let handle = try FileHandle(forWritingTo: file)
            for _ in 0 ..< 10 {
                try await Task.sleep(for: .milliseconds(300))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(IngestHarness.randomBytes(50_000)))
                let state = try await ingest.request(.GET, "/v1/acquisitions/\(id)").body["state"] as? String
                #expect(state == "pending", "must not register a file that is still growing")
            }
            try handle.close()
            let finished = Date()
            let view = try await ingest.settled(id, timeout: .seconds(20))
            #expect(view["state"] as? String == "registered", "\(view)")
            let object = try #require((view["objects"] as? [[String: Any]])?.first)
            #expect(object["size"] as? Int == 510_000)
            #expect(object["sha2"] as? String == (try await independentChecksum(file)))
            let registeredAt = try #require((view["registeredAt"] as? String).flatMap(ISO8601Timestamp.parse))
            #expect(registeredAt.timeIntervalSince(finished) >= 0.9, "registered only after a quiet second")
            #expect(try await ingest.waitForMessages(1).count == 1)
        }
    }
}
