import Crypto
import FairwayCatalog
import FairwayContracts
import FairwayServiceKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// `GET /ui`: the operators' dashboard, one server-rendered page (no script): the pipeline with
/// counts and hourly rates per stage, recent acquisitions with each object's stage, failures with
/// their reasons, QC distributions per instrument (inline SVG histograms), storage per resource
/// and per investigation against its quota, and upcoming retention actions and expiries.
/// Looking needs no login; changing state (replaying a failed object) needs an operator token
/// (`fairway token create --operator`), given once at `/ui/login` and kept in a same-site cookie.
struct Dashboard: Sendable {
    let catalog: Catalog
    let logger: Logger

    static let cookie = "fairway_operator"

    func add(to router: Router<BasicRequestContext>) {
        router.get("/ui") { request, _ in
            let operatorName = try? await operatorLabel(request)
            return await page(status: .ok) { try await render(await load(), operatorName: operatorName, request: request) }
        }
        router.get("/ui/login") { _, _ in Self.html(.ok, Self.document(title: "Operator login", body: Self.loginForm(problem: nil))) }
        router.post("/ui/login") { request, _ in await login(request) }
        router.post("/ui/logout") { _, _ in
            var response = Self.redirect("/ui")
            response.headers[.setCookie] = "\(Self.cookie)=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict"
            return response
        }
        router.post("/ui/objects/:id/replay") { request, context in
            await replay(request, id: context.parameters.get("id") ?? "")
        }
    }

    // MARK: - Operators

    /// The operator's label when the request carries a valid operator token (cookie), else nil.
    func operatorLabel(_ request: Request) async throws -> String? {
        guard let token = Self.cookieValue(request.headers[.cookie] ?? "", name: Self.cookie) else { return nil }
        return try await identify(token)
    }

    func identify(_ token: String) async throws -> String? {
        guard !token.isEmpty, token.utf8.count <= 256 else { return nil }
        let digest = ByteBuffer(bytes: Array(SHA256.hash(data: Data(token.utf8))))
        for try await (id, label) in try await catalog.client.query("""
            WITH hit AS (SELECT id, label, last_used_at FROM operator_tokens WHERE token_sha256 = \(digest) AND revoked_at IS NULL),
            touched AS (UPDATE operator_tokens SET last_used_at = now()
                        WHERE id IN (SELECT id FROM hit WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))
            SELECT id, label FROM hit
            """, logger: logger).decode((UUID, String).self) {
            return label.isEmpty ? "operator \(id.uuidString.prefix(8).lowercased())" : label
        }
        return nil
    }

    private func login(_ request: Request) async -> Response {
        guard let body = try? await request.body.collect(upTo: 4096), let token = Self.formValue(String(buffer: body), name: "token") else {
            return Self.html(.badRequest, Self.document(title: "Operator login", body: Self.loginForm(problem: "Send the token from the form.")))
        }
        do {
            guard try await identify(token) != nil else {
                return Self.html(.unauthorized, Self.document(title: "Operator login", body: Self.loginForm(problem: "That token is not an operator token (or it was revoked).")))
            }
        } catch {
            return Self.html(.serviceUnavailable, Self.document(title: "Operator login", body: "<p>The catalog could not be reached; retry later.</p>"))
        }
        // The token itself is the session: HttpOnly (no script reads it), SameSite=Strict (no other
        // site can make the browser send it, so no cross-site form can replay), 12 hours.
        var response = Self.redirect("/ui")
        response.headers[.setCookie] = "\(Self.cookie)=\(token); Path=/ui; Max-Age=43200; HttpOnly; SameSite=Strict"
        return response
    }

    /// Sends a failed object back to conversion: its state returns to `registered` and
    /// `object.registered` is emitted again (outbox, same transaction), so the converter, metadata
    /// and QC run again, e.g. after an operator configured an external converter.
    private func replay(_ request: Request, id text: String) async -> Response {
        let who: String
        do {
            guard let label = try await operatorLabel(request) else {
                return Self.html(.unauthorized, Self.document(title: "Login needed", body: "<p>Replaying needs an operator login. <a href=\"/ui/login\">Log in</a>.</p>"))
            }
            who = label
        } catch {
            return Self.html(.serviceUnavailable, Self.document(title: "Unavailable", body: "<p>The catalog could not be reached; retry later.</p>"))
        }
        guard let id = UUID(uuidString: text) else {
            return Self.html(.notFound, Self.document(title: "Not found", body: "<p>No such object.</p>"))
        }
        do {
            let replayed = try await catalog.transaction { transaction -> Bool in
                struct Row: Decodable {
                    let acquisition: UUID, assay: UUID, path: String, size: Int64, checksum: String, format: String, version: Int
                    let resource: String, physical: String, physicalBytes: String?, reason: String?
                }
                var row: Row?
                for try await json in try await transaction.query("""
                    WITH target AS (
                        SELECT o.* FROM objects o
                        WHERE o.id = \(id) AND o.parent_id IS NULL AND o.acquisition_id IS NOT NULL AND o.checksum IS NOT NULL
                          AND o.state IN ('failed', 'unsupported-format')
                        FOR UPDATE
                    ), source AS (
                        SELECT x.name, p.physical_path, encode(p.physical_path_bytes, 'base64') AS bytes FROM replicas p
                        JOIN resources x ON x.id = p.resource_id, target t
                        WHERE p.object_id = t.id AND p.status = 'good' AND x.role IN ('landing', 'vault')
                        ORDER BY x.role = 'landing' DESC LIMIT 1
                    ), updated AS (
                        UPDATE objects o SET state = 'registered', failure_reason = NULL, updated_at = now()
                        FROM target t, source WHERE o.id = t.id RETURNING o.id
                    )
                    SELECT jsonb_build_object('acquisition', t.acquisition_id, 'assay', t.assay_id, 'path', t.logical_path, 'size', t.size_bytes,
                                              'checksum', t.checksum, 'format', t.format, 'version', t.version, 'resource', s.name,
                                              'physical', s.physical_path, 'physicalBytes', s.bytes, 'reason', t.failure_reason)::text
                    FROM target t, source s, updated
                    """).decode(String.self) { row = try JSONDecoder().decode(Row.self, from: Data(json.utf8)) }
                guard let row else { return false }
                try await transaction.query("""
                    INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                    VALUES (\("operator:" + who), 'object.replay', 'object', \(id.uuidString.lowercased()),
                            jsonb_build_object('failure', \(row.reason)::text))
                    """)
                // A replay is a new trace: the operator's action, not the original post.
                transaction.emit(Envelope(correlationID: row.acquisition.uuidString.lowercased(), traceparent: TraceParent.root().description,
                                          payload: ObjectRegistered(
                    objectID: id, acquisitionID: row.acquisition, assayID: row.assay, logicalPath: row.path, resource: row.resource,
                    physicalPath: row.physical, size: row.size, checksum: row.checksum, format: row.format, version: row.version,
                    physicalPathBytes: row.physicalBytes
                )))
                return true
            }
            guard replayed else {
                return Self.html(.conflict, Self.document(title: "Not replayed", body: """
                    <p>Object \(Self.escape(text)) is not a failed original with a good copy to read; nothing was done. <a href="/ui">Back</a>.</p>
                    """))
            }
            logger.info("object replayed from the dashboard", metadata: ["object": "\(id)", "operator": "\(who)"])
            return Self.redirect("/ui?replayed=\(id.uuidString.lowercased())#failures")
        } catch {
            logger.error("replay failed", metadata: ["object": "\(id)", "error": "\(String(reflecting: error))"])
            return Self.html(.serviceUnavailable, Self.document(title: "Unavailable", body: "<p>The catalog could not be reached; retry later.</p>"))
        }
    }

    // MARK: - What the page shows

    struct Snapshot: Decodable {
        struct Acquisition: Decodable { let zone: String; let path: String; let state: String; let reason: String?; let posted: String; let objects: [Item] }
        struct Item: Decodable { let id: String; let path: String; let state: String }
        struct Failure: Decodable { let id: String; let path: String; let state: String; let reason: String?; let at: String }
        struct Instrument: Decodable { let instrument: String; let snr: [Double]?; let saturation: [Double]? }
        struct Resource: Decodable { let name: String; let role: String; let files: Int; let bytes: Int64 }
        struct Investigation: Decodable { let name: String; let quota: Int64?; let bytes: Int64; let objects: Int }
        struct Action: Decodable { let kind: String; let state: String; let due: String; let path: String; let reason: String }
        struct Expiry: Decodable { let investigation: String; let owner: String; let expiresOn: String; let objects: Int; let bytes: Int64 }
        let stages: [String: Int]
        let rates: [String: Int]
        let recent: [Acquisition]
        let failures: [Failure]
        let qc: [Instrument]
        let storage: [Resource]
        let investigations: [Investigation]
        let retention: [Action]
        let expiries: [Expiry]
    }

    func load() async throws -> Snapshot {
        var text = ""
        for try await json in try await catalog.client.query("""
            SELECT jsonb_build_object(
                'stages', (SELECT coalesce(jsonb_object_agg(state, n), '{}') FROM (SELECT state, count(*) AS n FROM objects WHERE parent_id IS NULL GROUP BY state) s),
                'rates', jsonb_build_object(
                    -- state <> 'expired' lets the planner use objects_created_at (nothing an hour old has expired).
                    'registered', (SELECT count(*) FROM objects WHERE parent_id IS NULL AND state <> 'expired' AND created_at > now() - interval '1 hour'),
                    'converted', (SELECT count(*) FROM objects WHERE parent_id IS NOT NULL AND state <> 'expired' AND created_at > now() - interval '1 hour'),
                    'described', (SELECT count(*) FROM image_metadata WHERE status = 'extracted' AND extracted_at > now() - interval '1 hour'),
                    'scored', (SELECT count(*) FROM qc_results WHERE status = 'scored' AND scored_at > now() - interval '1 hour'),
                    'failed', (SELECT count(*) FROM objects WHERE state IN ('failed', 'unsupported-format') AND updated_at > now() - interval '1 hour')),
                'recent', (SELECT coalesce(jsonb_agg(a ORDER BY a.created_at DESC), '[]') FROM (
                    SELECT q.created_at, z.name AS zone, q.path, q.state, q.failure_reason AS reason, to_char(q.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS posted,
                           (SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'path', o.logical_path, 'state', o.state) ORDER BY o.logical_path), '[]')
                            FROM objects o WHERE o.acquisition_id = q.id) AS objects
                    FROM acquisitions q JOIN resources z ON z.id = q.zone_id ORDER BY q.created_at DESC LIMIT 20) a),
                'failures', (SELECT coalesce(jsonb_agg(f ORDER BY f.updated_at DESC), '[]') FROM (
                    SELECT o.id, o.logical_path AS path, o.state, o.failure_reason AS reason, o.updated_at,
                           to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at
                    FROM objects o WHERE o.state IN ('failed', 'unsupported-format') ORDER BY o.updated_at DESC LIMIT 50) f),
                'qc', (SELECT coalesce(jsonb_agg(i ORDER BY i.instrument), '[]') FROM (
                    SELECT coalesce(q.instrument, m.microscope, 'unknown instrument') AS instrument,
                           array_agg(s.value) FILTER (WHERE s.metric = 'snr') AS snr,
                           array_agg(s.value) FILTER (WHERE s.metric = 'saturationFraction') AS saturation
                    FROM qc_scores s
                    -- The last 30 days of scoring: enough to see an instrument drift, bounded work per refresh.
                    JOIN qc_results r ON r.object_id = s.object_id AND r.method_version = s.method_version AND r.scored_at > now() - interval '30 days'
                    JOIN objects o ON o.id = s.object_id LEFT JOIN objects p ON p.id = o.parent_id
                    LEFT JOIN acquisitions q ON q.id = coalesce(o.acquisition_id, p.acquisition_id)
                    LEFT JOIN image_metadata m ON m.object_id = o.id
                    WHERE s.plane IS NULL GROUP BY 1) i),
                'storage', (SELECT coalesce(jsonb_agg(r ORDER BY r.role, r.name), '[]') FROM (
                    SELECT x.name, x.role, count(p.id) AS files, coalesce(sum(p.size_bytes), 0) AS bytes
                    FROM resources x LEFT JOIN replicas p ON p.resource_id = x.id AND p.status = 'good' GROUP BY x.name, x.role) r),
                'investigations', (SELECT coalesce(jsonb_agg(v ORDER BY v.name), '[]') FROM (
                    SELECT i.name, i.quota_bytes AS quota, coalesce(sum(o.size_bytes), 0) AS bytes, count(o.id) AS objects
                    FROM investigations i LEFT JOIN studies s ON s.investigation_id = i.id LEFT JOIN assays a ON a.study_id = s.id
                    LEFT JOIN objects o ON o.assay_id = a.id AND o.state <> 'expired'
                    GROUP BY i.name, i.quota_bytes) v),
                'retention', (SELECT coalesce(jsonb_agg(r ORDER BY r.not_before), '[]') FROM (
                    SELECT a.kind, a.state, a.not_before, to_char(a.not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS due,
                           o.logical_path AS path, a.reason
                    FROM retention_actions a JOIN objects o ON o.id = a.object_id
                    WHERE a.state IN ('scheduled', 'running') ORDER BY a.not_before LIMIT 30) r),
                'expiries', (SELECT coalesce(jsonb_agg(e ORDER BY e."expiresOn"), '[]') FROM (
                    SELECT DISTINCT ON (n.investigation_id, n.owner, n.expires_on) i.name AS investigation, n.owner,
                           n.expires_on::text AS "expiresOn", n.object_count AS objects, n.total_bytes AS bytes
                    FROM retention_notices n JOIN investigations i ON i.id = n.investigation_id
                    WHERE n.expires_on >= current_date ORDER BY n.investigation_id, n.owner, n.expires_on, n.sent_at DESC LIMIT 20) e)
            )::text
            """, logger: logger).decode(String.self) { text = json }
        return try JSONDecoder().decode(Snapshot.self, from: Data(text.utf8))
    }

    // MARK: - HTML

    static let stages = ["registered", "converted", "described", "scored"]

    func render(_ snapshot: Snapshot, operatorName: String?, request: Request) -> String {
        var body = ""
        let replayed = request.uri.queryParameters.get("replayed")
        body += "<header><h1>Fairway</h1><p class=\"who\">"
            + (operatorName.map { "Operator: \(Self.escape($0)) <form method=\"post\" action=\"/ui/logout\" class=\"inline\"><button>Log out</button></form>" }
                ?? "<a href=\"/ui/login\">Operator login</a> (needed to replay)")
            + "</p></header>"
        if let replayed { body += "<p class=\"banner\" id=\"replayed\">Object \(Self.escape(String(replayed.prefix(64)))) was sent back to conversion.</p>" }

        // Pipeline: originals per state, and what each stage did in the last hour.
        body += "<section id=\"pipeline\"><h2>Pipeline</h2><ol class=\"flow\">"
        let rateOf = ["registered": "registered", "converted": "converted", "described": "described", "scored": "scored"]
        for stage in Self.stages {
            body += "<li class=\"stage\" data-stage=\"\(stage)\"><span class=\"name\">\(stage)</span>"
                + "<span class=\"count\">\(snapshot.stages[stage] ?? 0)</span>"
                + "<span class=\"rate\">\(snapshot.rates[rateOf[stage]!] ?? 0) in the last hour</span></li>"
        }
        let failed = (snapshot.stages["failed"] ?? 0) + (snapshot.stages["unsupported-format"] ?? 0)
        body += "<li class=\"stage failed\" data-stage=\"failed\"><span class=\"name\">failed</span><span class=\"count\">\(failed)</span>"
            + "<span class=\"rate\">\(snapshot.rates["failed"] ?? 0) in the last hour</span></li>"
        let other = snapshot.stages.filter { !Self.stages.contains($0.key) && !["failed", "unsupported-format"].contains($0.key) }
        body += "</ol>" + (other.isEmpty ? "" : "<p class=\"note\">" + other.sorted { $0.key < $1.key }.map { "\(Self.escape($0.key)): \($0.value)" }.joined(separator: ", ") + "</p>")
        body += "</section>"

        body += "<section id=\"recent\"><h2>Recent acquisitions</h2><table><thead><tr><th>posted (UTC)</th><th>zone</th><th>path</th><th>state</th><th>objects</th></tr></thead><tbody>"
        for acquisition in snapshot.recent {
            body += "<tr><td>\(acquisition.posted)</td><td>\(Self.escape(acquisition.zone))</td><td>\(Self.escape(acquisition.path))</td>"
                + "<td>\(Self.badge(acquisition.state))\(acquisition.reason.map { " <span class=\"reason\">\(Self.escape($0))</span>" } ?? "")</td><td>"
                + acquisition.objects.map { "<span class=\"object\" data-object=\"\($0.id)\">\(Self.escape(Self.fileName($0.path))) \(Self.badge($0.state))</span>" }.joined(separator: " ")
                + "</td></tr>"
        }
        if snapshot.recent.isEmpty { body += "<tr><td colspan=\"5\">No acquisition yet.</td></tr>" }
        body += "</tbody></table></section>"

        body += "<section id=\"failures\"><h2>Failures</h2><table><thead><tr><th>when (UTC)</th><th>object</th><th>state</th><th>reason</th><th></th></tr></thead><tbody>"
        for failure in snapshot.failures {
            body += "<tr data-object=\"\(failure.id)\"><td>\(failure.at)</td><td>\(Self.escape(failure.path))</td><td>\(Self.badge(failure.state))</td>"
                + "<td class=\"reason\">\(Self.escape(failure.reason ?? ""))</td><td>"
                + "<form method=\"post\" action=\"/ui/objects/\(failure.id)/replay\"><button\(operatorName == nil ? " disabled title=\"operator login needed\"" : "")>Replay</button></form>"
                + "</td></tr>"
        }
        if snapshot.failures.isEmpty { body += "<tr><td colspan=\"5\">No failure.</td></tr>" }
        body += "</tbody></table></section>"

        body += "<section id=\"qc\"><h2>Quality per instrument (last 30 days)</h2>"
        if snapshot.qc.isEmpty { body += "<p>No image scored yet.</p>" }
        for instrument in snapshot.qc {
            body += "<div class=\"instrument\" data-instrument=\"\(Self.escape(instrument.instrument))\"><h3>\(Self.escape(instrument.instrument))</h3>"
                + Self.histogram(instrument.snr ?? [], title: "SNR", range: nil, percent: false)
                + Self.histogram(instrument.saturation ?? [], title: "Saturated pixels", range: 0...1, percent: true)
                + "</div>"
        }
        body += "</section>"

        body += "<section id=\"storage\"><h2>Storage</h2><table><thead><tr><th>resource</th><th>role</th><th>good copies</th><th>bytes</th></tr></thead><tbody>"
        for resource in snapshot.storage {
            body += "<tr data-resource=\"\(Self.escape(resource.name))\"><td>\(Self.escape(resource.name))</td><td>\(resource.role)</td><td>\(resource.files)</td><td>\(Self.bytes(resource.bytes))</td></tr>"
        }
        body += "</tbody></table><table><thead><tr><th>investigation</th><th>objects</th><th>catalogued</th><th>quota</th><th></th></tr></thead><tbody>"
        for investigation in snapshot.investigations {
            let share = investigation.quota.map { $0 > 0 ? Double(investigation.bytes) / Double($0) : 1 }
            body += "<tr data-investigation=\"\(Self.escape(investigation.name))\"><td>\(Self.escape(investigation.name))</td><td>\(investigation.objects)</td>"
                + "<td>\(Self.bytes(investigation.bytes))</td><td>\(investigation.quota.map(Self.bytes) ?? "none")</td><td>"
                + (share.map { "<svg class=\"quota\" width=\"120\" height=\"10\" role=\"img\" aria-label=\"\(Int(($0 * 100).rounded()))% of quota\"><rect width=\"120\" height=\"10\" fill=\"#ddd\"/><rect width=\"\(Int(min(1, $0) * 120))\" height=\"10\" fill=\"\($0 > 0.9 ? "#c0392b" : "#2e86c1")\"/></svg> \(Int(($0 * 100).rounded()))%" } ?? "")
                + "</td></tr>"
        }
        body += "</tbody></table></section>"

        body += "<section id=\"retention\"><h2>Upcoming retention</h2><table><thead><tr><th>due (UTC)</th><th>action</th><th>object</th><th>reason</th></tr></thead><tbody>"
        for action in snapshot.retention {
            body += "<tr><td>\(action.due)</td><td>\(Self.escape(action.kind)) (\(action.state))</td><td>\(Self.escape(action.path))</td><td>\(Self.escape(action.reason))</td></tr>"
        }
        for expiry in snapshot.expiries {
            body += "<tr class=\"expiry\"><td>\(expiry.expiresOn)</td><td>expiry</td><td>\(Self.escape(expiry.investigation)) (\(Self.escape(expiry.owner))): \(expiry.objects) objects</td><td>\(Self.bytes(expiry.bytes)), notice sent</td></tr>"
        }
        if snapshot.retention.isEmpty && snapshot.expiries.isEmpty { body += "<tr><td colspan=\"4\">Nothing scheduled.</td></tr>" }
        body += "</tbody></table></section>"
        return Self.document(title: "Fairway", body: body, refresh: true)
    }

    /// Ten bins over the values' range (or a fixed one), as bars with the bin counts as titles.
    static func histogram(_ values: [Double], title: String, range fixed: ClosedRange<Double>?, percent: Bool) -> String {
        let values = values.filter(\.isFinite)
        guard !values.isEmpty else { return "<p class=\"histogram empty\">\(title): no values</p>" }
        let low = fixed?.lowerBound ?? values.min()!, high = fixed?.upperBound ?? values.max()!
        let width = high > low ? (high - low) / 10 : 1
        var bins = [Int](repeating: 0, count: 10)
        for value in values { bins[min(9, max(0, Int((value - low) / width)))] += 1 }
        let tallest = max(1, bins.max()!)
        func label(_ value: Double) -> String { percent ? String(format: "%.0f%%", value * 100) : String(format: "%.1f", value) }
        var svg = "<figure class=\"histogram\" data-metric=\"\(title)\"><figcaption>\(title) (\(values.count) channels)</figcaption>"
            + "<svg width=\"260\" height=\"90\" viewBox=\"0 0 260 90\" role=\"img\" aria-label=\"\(title) histogram\">"
        for (index, count) in bins.enumerated() {
            let height = Int(Double(count) / Double(tallest) * 60)
            svg += "<rect class=\"bin\" x=\"\(10 + index * 24)\" y=\"\(70 - height)\" width=\"22\" height=\"\(height)\" fill=\"#2e86c1\"><title>\(label(low + Double(index) * width))–\(label(low + Double(index + 1) * width)): \(count)</title></rect>"
        }
        svg += "<text x=\"10\" y=\"85\" font-size=\"10\">\(label(low))</text><text x=\"250\" y=\"85\" font-size=\"10\" text-anchor=\"end\">\(label(high))</text></svg></figure>"
        return svg
    }

    static func badge(_ state: String) -> String { "<span class=\"badge \(escape(state))\">\(escape(state))</span>" }
    static func fileName(_ path: String) -> String { String(path.split(separator: "/").last ?? Substring(path)) }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB", "PB"]
        var value = Double(count), unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func loginForm(problem: String?) -> String {
        (problem.map { "<p class=\"problem\">\(escape($0))</p>" } ?? "")
            + """
            <form method="post" action="/ui/login"><label>Operator token <input type="password" name="token" autocomplete="off" required></label>
            <button>Log in</button></form><p>Create one with <code>fairway token create --operator --label NAME</code>.</p>
            """
    }

    static func document(title: String, body: String, refresh: Bool = false) -> String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        \(refresh ? "<meta http-equiv=\"refresh\" content=\"30\">" : "")
        <style>
        body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}h1{margin:0}header{display:flex;justify-content:space-between;align-items:center}
        section{margin-top:1.5rem}table{border-collapse:collapse;width:100%;margin-bottom:.8rem}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
        .flow{display:flex;gap:.5rem;list-style:none;padding:0}.stage{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;display:flex;flex-direction:column;min-width:8rem}
        .stage .count{font-size:1.6rem;font-weight:600}.stage .rate{color:#666;font-size:.8rem}.stage.failed{border-color:#c0392b}
        .badge{border-radius:4px;padding:0 .3rem;font-size:.8rem;background:#eee}.badge.scored,.badge.registered{background:#d5f5e3}.badge.failed,.badge.unsupported-format{background:#fadbd8}
        .reason{color:#922b21;font-size:.85rem}.banner{background:#d6eaf8;padding:.5rem}.instrument{display:inline-block;margin-right:2rem}.inline{display:inline}
        figure{display:inline-block;margin:0 1rem 0 0}figcaption{font-size:.8rem;color:#555}
        </style></head><body>\(body)</body></html>
        """
    }

    static func escape(_ text: String) -> String { HTMLText.escape(text) }

    // MARK: - HTTP plumbing

    private func page(status: HTTPResponse.Status, _ render: () async throws -> String) async -> Response {
        do {
            return Self.html(status, try await render())
        } catch {
            logger.error("dashboard failed", metadata: ["error": "\(String(reflecting: error))"])
            return Self.html(.serviceUnavailable, Self.document(title: "Unavailable", body: "<p>The catalog could not be reached; retry later.</p>"))
        }
    }

    static func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            // No script at all, forms only to this site, never framed.
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func cookieValue(_ header: String, name: String) -> String? {
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0] == name { return pair[1] }
        }
        return nil
    }

    static func formValue(_ body: String, name: String) -> String? {
        for part in body.split(separator: "&") {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            if pair.count == 2, pair[0] == name {
                return pair[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
        }
        return nil
    }
}
