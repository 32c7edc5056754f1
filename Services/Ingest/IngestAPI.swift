import FairwayCatalog
import FairwayContracts
import FairwayServiceKit
import FairwayStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// The watcher-facing HTTP API: `POST /v1/acquisitions`, `GET /v1/acquisitions/{id}`,
/// `GET /v1/objects`, `GET /v1/objects/{id}`, `GET /v1/objects/{id}/content` and `GET /v1/search`. Every request carries a watcher token; errors are
/// JSON `{"error", "detail"}` with the status that says whose fault it is.
struct IngestAPI: Sendable {
    let intake: AcquisitionIntake
    let tokens: WatcherTokens
    let views: CatalogViews
    let client: PostgresClient
    let logger: Logger
    /// Wakes the registrar in this process at once (others hear the database notification).
    let registered: @Sendable () -> Void

    func add(to router: Router<BasicRequestContext>) {
        router.post("/v1/acquisitions") { request, _ in await handle { try await postAcquisition(request) } }
        router.get("/v1/acquisitions/:id") { request, context in
            await handle { try await getAcquisition(request, id: context.parameters.get("id") ?? "") }
        }
        router.get("/v1/objects") { request, _ in await handle { try await listObjects(request) } }
        router.get("/v1/objects/:id") { request, context in
            await handle { try await getObject(request, id: context.parameters.get("id") ?? "") }
        }
        router.get("/v1/objects/:id/content") { request, context in
            await handle { try await getContent(request, id: context.parameters.get("id") ?? "", context: context) }
        }
        router.get("/v1/search") { request, _ in await handle { try await search(request) } }
    }

    // MARK: - Handlers

    /// The request is a span of the trace its `traceparent` header continues; the acquisition
    /// records that span, so its objects' messages are its children.
    private func postAcquisition(_ request: Request) async throws -> Response {
        try await TraceHop.span("POST /v1/acquisitions", kind: .server, continuing: request.headers[HTTPField.Name("traceparent")!],
                                attributes: ["http.request.method": "POST", "http.route": "/v1/acquisitions"]) { hop in
            try await postAcquisition(request, hop: hop)
        }
    }

    private func postAcquisition(_ request: Request, hop: TraceHop) async throws -> Response {
        let identity = try await authenticate(request, for: .acquire)
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: MessageCodec.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body too large", "the body is over \(MessageCodec.maxBodyBytes) bytes")
        }
        if body.readableBytesView.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "[") {
            return try await postBatch(body, identity: identity, trace: hop.traceparent)
        }
        let acquisition: AcquisitionCompleted
        do {
            acquisition = try MessageCodec.decode(AcquisitionCompleted.self, from: body.readableBytesView, checkType: false)
        } catch {
            throw APIError(.badRequest, "malformed body", error.description)
        }
        let outcome: AcquisitionIntake.Outcome
        do {
            outcome = try await client.withConnection { connection in
                try await intake.accept(acquisition, source: .http, defaultOwner: identity.owner, tokenZone: identity.zone,
                                        trace: hop.traceparent, on: connection)
            }
        } catch let error as IntakeError {
            throw APIError(error)
        }
        registered()
        switch outcome {
        case .created(let id):
            return json(.accepted, ["id": id.uuidString.lowercased(), "state": "pending"])
        case .existing(let id, let state):
            return json(.ok, ["id": id.uuidString.lowercased(), "state": state])
        }
    }

    /// A JSON array of acquisitions (up to `maxBatch`), for watchers that find many files at once:
    /// 200 with one result per item, in order, each with the status it would have had on its own.
    static let maxBatch = 1000

    private func postBatch(_ body: ByteBuffer, identity: WatcherIdentity, trace: TraceParent) async throws -> Response {
        guard let items = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [Any] else {
            throw APIError(.badRequest, "malformed body", "not a JSON array of acquisitions")
        }
        guard !items.isEmpty, items.count <= Self.maxBatch else {
            throw APIError(.badRequest, "malformed body", "a batch holds 1 to \(Self.maxBatch) acquisitions, not \(items.count)")
        }
        var results: [[String: Any]] = Array(repeating: [:], count: items.count)
        var checked: [(index: Int, acquisition: AcquisitionIntake.Checked)] = []
        try await client.withConnection { connection in
            for (index, item) in items.enumerated() {
                do {
                    guard item is [String: Any], let data = try? JSONSerialization.data(withJSONObject: item) else {
                        throw APIError(.badRequest, "malformed body", "item \(index) is not a JSON object")
                    }
                    let request: AcquisitionCompleted
                    do {
                        request = try MessageCodec.decode(AcquisitionCompleted.self, from: Array(data), checkType: false)
                    } catch {
                        throw APIError(.badRequest, "malformed body", "\(error)")
                    }
                    do {
                        var acquisition = try await intake.check(request, defaultOwner: identity.owner, tokenZone: identity.zone, on: connection)
                        // The batch is one request, one span: its acquisitions all continue it.
                        acquisition.traceparent = trace.description
                        checked.append((index, acquisition))
                    } catch let error as IntakeError {
                        throw APIError(error)
                    }
                } catch let error as APIError {
                    results[index] = ["status": Int(error.status.code), "error": error.error, "detail": error.detail]
                }
            }
            let outcomes = try await intake.record(checked.map(\.acquisition), source: .http, on: connection)
            for ((index, _), outcome) in zip(checked, outcomes) {
                switch outcome {
                case .created(let id): results[index] = ["status": 202, "id": id.uuidString.lowercased(), "state": "pending"]
                case .existing(let id, let state): results[index] = ["status": 200, "id": id.uuidString.lowercased(), "state": state]
                }
            }
        }
        if !checked.isEmpty { registered() }
        let data = try JSONSerialization.data(withJSONObject: ["results": results], options: [.sortedKeys])
        return raw(.ok, String(decoding: data, as: UTF8.self))
    }

    private func getAcquisition(_ request: Request, id: String) async throws -> Response {
        let identity = try await authenticate(request, for: .acquire, .read)
        guard let id = UUID(uuidString: id) else { throw APIError(.notFound, "not found", "'\(id.prefix(64))' is not an acquisition id") }
        guard let body = try await views.acquisition(id, zone: identity.zone) else {
            throw APIError(.notFound, "not found", "no acquisition \(id.uuidString.lowercased()) in zone \(identity.zone)")
        }
        return raw(.ok, body)
    }

    private func listObjects(_ request: Request) async throws -> Response {
        let identity = try await authenticate(request, for: .read)
        let query = request.uri.queryParameters
        var filter = CatalogViews.ObjectFilter(zone: identity.zone)
        for (name, keyPath) in [("investigation", \CatalogViews.ObjectFilter.investigation), ("study", \.study), ("assay", \.assay)] {
            guard let value = query.get(name) else { continue }
            guard CatalogName.isValid(value) else { throw APIError(.badRequest, "bad query", "\(name) must be \(CatalogName.rule)") }
            filter[keyPath: keyPath] = value
        }
        if let limit = query.get("limit") {
            guard let value = Int(limit), (1 ... 1000).contains(value) else { throw APIError(.badRequest, "bad query", "limit must be 1 to 1000") }
            filter.limit = value
        }
        if let after = query.get("after") {
            guard let cursor = UUID(uuidString: after) else { throw APIError(.badRequest, "bad query", "after must be an object id (the previous page's next)") }
            filter.after = cursor
        }
        return raw(.ok, try await views.objects(filter))
    }

    /// Objects of the token's zone by annotation, machine tag, words, ISA names and dates.
    private func search(_ request: Request) async throws -> Response {
        let identity = try await authenticate(request, for: .read)
        var parameters: [(name: String, value: String)] = []
        for pair in (request.uri.query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            // Form encoding: '+' is a space; a malformed escape is the client's error, not a guess.
            guard let name = String(parts[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                  let value = (parts.count > 1 ? String(parts[1]) : "").replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                throw APIError(.badRequest, "bad query", "'\(pair.prefix(64))' is not valid percent-encoded UTF-8")
            }
            parameters.append((name, value))
        }
        let query: CatalogSearch
        do {
            query = try CatalogSearch(parameters: parameters, zone: identity.zone)
        } catch {
            throw APIError(.badRequest, "bad query", error.description)
        }
        return raw(.ok, try await query.run(client: client, logger: logger))
    }

    private func getObject(_ request: Request, id: String) async throws -> Response {
        let identity = try await authenticate(request, for: .read)
        guard let id = UUID(uuidString: id) else { throw APIError(.notFound, "not found", "'\(id.prefix(64))' is not an object id") }
        guard let body = try await views.object(id, zone: identity.zone) else {
            throw APIError(.notFound, "not found", "no object \(id.uuidString.lowercased()) in zone \(identity.zone)")
        }
        return raw(.ok, body)
    }

    /// The object's bytes, streamed from an intact replica; the read counts as an access, so data
    /// in use is not tiered to cold storage. `Repr-Digest` (RFC 9530) carries the SHA-256.
    private func getContent(_ request: Request, id: String, context: BasicRequestContext) async throws -> Response {
        let identity = try await authenticate(request, for: .read)
        guard let id = UUID(uuidString: id) else { throw APIError(.notFound, "not found", "'\(id.prefix(64))' is not an object id") }
        guard let replica = try await views.readableReplica(id, zone: identity.zone) else {
            throw APIError(.notFound, "not found", "no readable object \(id.uuidString.lowercased()) in zone \(identity.zone)")
        }
        let body: ResponseBody
        do {
            body = try await FileIO().loadFile(path: replica.path, context: context)
        } catch {
            throw APIError(.serviceUnavailable, "unavailable", "the replica could not be read; retry later")
        }
        var headers: HTTPFields = [.contentType: "application/octet-stream", .contentLength: "\(replica.size)"]
        if let checksum = replica.checksum, checksum.hasPrefix("sha2:") {
            headers[HTTPField.Name("Repr-Digest")!] = "sha-256=:\(checksum.dropFirst(5)):"
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The caller, when its token holds one of `scopes` (posting needs `acquire`; reading the
    /// catalog `read`; an acquisition's state is for whoever posted it or may read).
    private func authenticate(_ request: Request, for scopes: TokenScope...) async throws -> WatcherIdentity {
        try await tokens.authenticate(request, anyOf: scopes)
    }

    // MARK: - Responses

    private func handle(_ body: () async throws -> Response) async -> Response {
        await APIError.answering(logger, body)
    }

    private func json(_ status: HTTPResponse.Status, _ fields: [String: String]) -> Response {
        raw(status, String(decoding: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
    }

    private func raw(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// An error answer: `{"error": what, "detail": why}` with its status.
struct APIError: Error {
    /// Runs a handler: an `APIError` it throws is its answer; anything else is logged and answered
    /// 503 (the catalog could not be reached), without details that may hold secrets.
    static func answering(_ logger: Logger, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as APIError {
            return error.response
        } catch {
            logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            return APIError(.serviceUnavailable, "unavailable", "the catalog could not be reached; retry later").response
        }
    }

    let status: HTTPResponse.Status
    let error: String
    let detail: String

    init(_ status: HTTPResponse.Status, _ error: String, _ detail: String) {
        self.status = status; self.error = error; self.detail = detail
    }

    init(_ intake: IntakeError) {
        switch intake {
        case .invalidBody: self.init(.badRequest, "malformed body", intake.description)
        case .unknownZone: self.init(.notFound, "unknown zone", intake.description)
        case .zoneNotAllowed: self.init(.forbidden, "zone not allowed", intake.description)
        case .path(let path) where path.isMalformedRequest: self.init(.badRequest, "malformed path", intake.description)
        case .path(let path) where path.isConfinementViolation: self.init(.unprocessableContent, "path escapes the zone", intake.description)
        case .path(.notFound): self.init(.notFound, "path not found", intake.description)
        case .path(.zoneRootUnusable): self.init(.serviceUnavailable, "zone unavailable", intake.description)
        case .path: self.init(.unprocessableContent, "path not usable", intake.description)
        case .overQuota: self.init(.init(code: 507, reasonPhrase: "Insufficient Storage"), "over quota", intake.description)
        }
    }

    var response: Response {
        let body = try! JSONSerialization.data(withJSONObject: ["error": error, "detail": detail], options: [.sortedKeys])
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
