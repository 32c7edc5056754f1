import AsyncHTTPClient
import FairwayTestSupport
import Foundation
import NIOCore
import Testing

/// `/ui` in a real browser: headless Chromium (Debian's `chromium`) loads the dashboard of a
/// running pipeline; the test reads the DOM it built and keeps a screenshot. The operator's
/// login and the replay of a failed object go through plain HTTP with the cookie.
@Suite("the operators' dashboard (/ui), in headless Chromium", .serialized)
struct DashboardTests {
    static func chromium() throws -> String {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw TestSetupError("no Chromium: apt-get install chromium (the .ci/run installs it)")
    }

    /// Chromium as root in a container needs --no-sandbox; a profile of its own keeps runs apart.
    static func browse(_ url: String, _ extra: [String]) async throws -> (status: Int32, output: String) {
        let profile = try TestEnvironment.temporaryFolder("chromium-profile")
        return try await TestEnvironment.run(URL(fileURLWithPath: try chromium()), [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
            "--user-data-dir=\(profile.path)",
        ] + extra + [url])
    }

    struct Reply { let status: UInt; let headers: [String: String]; let body: String }

    /// A client that shows redirects instead of following them (login and replay answer 303).
    static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    static func send(_ url: String, form: String? = nil, cookie: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        if let form {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        if let cookie { request.headers.add(name: "Cookie", value: cookie) }
        let response = try await client.execute(request, timeout: .seconds(30))
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return Reply(status: response.status.code, headers: headers, body: String(buffer: try await response.body.collect(upTo: 8 << 20)))
    }

    @Test("the browser shows the pipeline counts, recent acquisitions, the failure with its reason, QC histograms as SVG, storage and retention; an operator logs in and replays the failure, which goes back through conversion")
    func dashboard() async throws {
        try await IngestHarness.with { harness in
            try await harness.startConverter()
            try await harness.startMetadata()
            try await harness.startQC()
            let cases = try TestEnvironment.temporaryFolder("dashboard-cases")
            let made = try await TestEnvironment.pythonJSON("make_qc_cases.py", [cases.path])
            try #require(made.status == 0, "\(made.output)")
            for name in ["zstack_u8.tif", "poisson_patches.tif"] {
                try harness.write("plate/\(name)", Array(try Data(contentsOf: cases.appendingPathComponent(name))))
            }
            // A vendor file the converter cannot read without an external converter: a failure.
            try harness.write("plate/scan <1>.czi", IngestHarness.randomBytes(4000))
            #expect(try await harness.post(["zone": harness.zone, "path": "plate", "investigation": "NUC", "study": "hela", "assay": "plate-1",
                                             "instrument": "LSM 980"]).status == 202)
            _ = try await harness.waitForScored(2, timeout: .seconds(120))
            #expect(try await eventually(timeout: .seconds(30)) {
                try await harness.count("SELECT count(*)::int FROM objects WHERE state = 'unsupported-format'") == 1
            })
            let failed = try #require(try await harness.rows("SELECT id::text AS id FROM objects WHERE state = 'unsupported-format'").first?["id"] as? String)
            let base = "http://127.0.0.1:\(harness.port)"

            // The browser's DOM.
            let dom = try await Self.browse(base + "/ui", ["--dump-dom", "--virtual-time-budget=3000"])
            #expect(dom.status == 0, "\(dom.output.suffix(2000))")
            let page = dom.output
            for section in ["pipeline", "recent", "failures", "qc", "storage", "retention"] {
                #expect(page.contains("<section id=\"\(section)\">"), "section \(section) in \(page.prefix(3000))")
            }
            #expect(page.contains(#"data-stage="scored"><span class="name">scored</span><span class="count">2</span><span class="rate">2 in the last hour</span>"#), "\(page.prefix(4000))")
            #expect(page.contains(#"data-stage="failed"><span class="name">failed</span><span class="count">1</span>"#))
            #expect(page.contains("scan &lt;1&gt;.czi") && !page.contains("scan <1>.czi"), "names are escaped")
            #expect(page.contains("czi files cannot be read natively"), "the failure's reason")
            #expect(page.contains("<tr data-object=\"\(failed)\">") && page.contains("/ui/objects/\(failed)/replay"))
            #expect(page.contains(#"<button disabled="" title="operator login needed">Replay</button>"#) || page.contains("disabled title=\"operator login needed\""), "no replay without login")
            #expect(page.contains(#"data-instrument="LSM 980""#) && page.contains(#"data-metric="SNR""#) && page.contains(#"data-metric="Saturated pixels""#))
            #expect(page.components(separatedBy: "class=\"bin\"").count - 1 == 20, "ten bins per histogram")
            #expect(page.contains("data-resource=\"\(harness.zone)\"") && page.contains("data-resource=\"derived\"") && page.contains("data-investigation=\"NUC\""))

            // A screenshot, kept for people to look at.
            let shot = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-dashboard-\(UUID().uuidString.prefix(8)).png")
            let taken = try await Self.browse(base + "/ui", ["--screenshot=\(shot.path)", "--window-size=1280,1800", "--virtual-time-budget=3000"])
            let png = (try? Data(contentsOf: shot)) ?? Data()
            #expect(taken.status == 0 && png.count > 10_000 && png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(taken.output.suffix(2000))")
            print("dashboard screenshot: \(shot.path) (\(png.count) bytes)")

            // Replaying needs an operator login.
            #expect(try await Self.send(base + "/ui/objects/\(failed)/replay", form: "").status == 401)
            let token = try await harness.cli("token", "create", "--operator", "--label", "night shift")
                .split(separator: "\n").first { $0.hasPrefix("fwt_") }.map(String.init) ?? ""
            #expect(token.hasPrefix("fwt_"))
            #expect(try await Self.send(base + "/ui/login", form: "token=fwt_wrong").status == 401)
            #expect(try await Self.send(base + "/ui/login", form: "token=" + harness.token).status == 401, "a watcher token is no operator token")
            #expect(try await Self.send(base + "/ui/login", form: "nothing").status == 400)
            let login = try await Self.send(base + "/ui/login", form: "token=\(token)")
            let setCookie = login.headers["set-cookie"] ?? ""
            #expect(login.status == 303 && setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"), "\(login.headers)")
            let cookie = String(setCookie.split(separator: ";").first ?? "")
            let loggedIn = try await Self.send(base + "/ui", cookie: cookie)
            #expect(loggedIn.body.contains("Operator: night shift") && loggedIn.headers["content-security-policy"]?.contains("default-src 'none'") == true)

            // The replay: the object goes back to conversion (object.registered again) and, with no
            // external converter configured, ends unsupported again; the audit log says who did it.
            let before = await harness.registeredMessages().filter { $0.payload.objectID.uuidString.lowercased() == failed }.count
            let replay = try await Self.send(base + "/ui/objects/\(failed)/replay", form: "", cookie: cookie)
            #expect(replay.status == 303 && replay.headers["location"] == "/ui?replayed=\(failed)#failures", "\(replay.status) \(replay.body)")
            #expect(try await eventually(timeout: .seconds(20)) {
                await harness.registeredMessages().filter { $0.payload.objectID.uuidString.lowercased() == failed }.count == before + 1
            })
            #expect(try await harness.count("SELECT count(*)::int FROM audit_log WHERE action = 'object.replay' AND actor = 'operator:night shift' AND target_id = '\(failed)'") == 1)
            #expect(try await eventually(timeout: .seconds(30)) {
                try await harness.count("SELECT count(*)::int FROM objects WHERE id = '\(failed)' AND state = 'unsupported-format'") == 1
            })
            let banner = try await Self.send(base + "/ui?replayed=\(failed)", cookie: cookie)
            #expect(banner.body.contains("was sent back to conversion") && !banner.body.contains("disabled title"))
            // Only failed originals are replayed; bad ids are refused; logging out ends the session.
            let scored = try #require(try await harness.rows("SELECT id::text AS id FROM objects WHERE state = 'scored' LIMIT 1").first?["id"] as? String)
            #expect(try await Self.send(base + "/ui/objects/\(scored)/replay", form: "", cookie: cookie).status == 409)
            #expect(try await Self.send(base + "/ui/objects/..%2F..%2Fetc/replay", form: "", cookie: cookie).status == 404)
            let logout = try await Self.send(base + "/ui/logout", form: "", cookie: cookie)
            #expect(logout.status == 303 && logout.headers["set-cookie"]?.contains("Max-Age=0") == true)
            #expect(harness.service?.isRunning == true)
        }
    }
}
