import FairwayPublication
import FairwayPublishing
import FairwayServiceKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// `POST /v1/publications` and `GET /v1/publications/{doi}`: the catalog API's side of publishing,
/// the same desk as `fairway publish`. Only an owner of the investigation (the token's owner has
/// the `owner` role in it) may publish its studies.
struct PublicationAPI: Sendable {
    let desk: PublicationDesk
    let settings: Result<PublishingSettings, FairwayConfiguration.Invalid>
    let tokens: WatcherTokens
    let client: PostgresClient
    let logger: Logger

    static let maxBodyBytes = 1 << 20

    func add(to router: Router<BasicRequestContext>) {
        router.post("/v1/publications") { request, _ in await respond { try await post(request) } }
        router.get("/v1/publications/:prefix/:suffix") { request, context in
            await respond { try await get(request, doi: "\(context.parameters.get("prefix") ?? "")/\(context.parameters.get("suffix") ?? "")") }
        }
    }

    /// Body: `{"investigation": I, "study": S, "publication": {…the publication file as JSON…}}`.
    /// 202 with the DOI and state; 422 with `problems` per field; 403 for a non-owner.
    private func post(_ request: Request) async throws -> Response {
        let identity = try await tokens.authenticate(request, for: .publish)
        let settings: PublishingSettings
        switch self.settings {
        case .success(let value): settings = value
        case .failure(let problem): throw APIError(.serviceUnavailable, "publishing not configured", problem.description)
        }
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: Self.maxBodyBytes) } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body too large", "the body is over \(Self.maxBodyBytes) bytes")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw APIError(.badRequest, "malformed body", "expected a JSON object {\"investigation\", \"study\", \"publication\"}")
        }
        guard let investigation = object["investigation"] as? String, let study = object["study"] as? String,
              (1 ... 200).contains(investigation.count), (1 ... 200).contains(study.count) else {
            throw APIError(.badRequest, "malformed body", "investigation and study must be names of 1 to 200 characters")
        }
        let unknown = Set(object.keys).subtracting(["investigation", "study", "publication"])
        guard unknown.isEmpty else { throw APIError(.badRequest, "malformed body", "unknown field \(unknown.sorted().first!.prefix(64))") }
        guard let publication = object["publication"] as? [String: Any],
              let publicationJSON = try? JSONSerialization.data(withJSONObject: publication) else {
            throw APIError(.badRequest, "malformed body", "publication must be an object: the publication file as JSON")
        }
        guard try await isOwner(identity.owner, of: investigation) else {
            throw APIError(.forbidden, "not an owner", "only an owner of investigation \(investigation.prefix(200)) may publish its studies")
        }
        let parsed: PublicationRequest
        do { parsed = try PublicationRequest.parse(json: publicationJSON) } catch {
            return problems(error.problems)
        }
        do {
            let reservation = try await desk.reserve(investigation: investigation, study: study, request: parsed,
                                                     requestedBy: "token:\(identity.owner)", settings: settings)
            let answer: [String: Any] = ["doi": reservation.doi.description, "url": reservation.doi.url, "landingPage": reservation.landingPage,
                                         "state": reservation.state, "updated": reservation.updated]
            return raw(.accepted, answer)
        } catch let refusal as PublicationDesk.Refusal {
            switch refusal {
            case .problems(let list): return problems(list)
            case .unknownStudy: throw APIError(.notFound, "unknown study", refusal.description)
            case .nothingToPublish: throw APIError(.conflict, "nothing to publish", refusal.description)
            case .withdrawn: throw APIError(.conflict, "withdrawn", refusal.description)
            case .unknownDOI, .contended: throw APIError(.serviceUnavailable, "try again", refusal.description)
            }
        }
    }

    /// The publication's state here and at DataCite, with DataCite's problems per field.
    private func get(_ request: Request, doi text: String) async throws -> Response {
        _ = try await tokens.authenticate(request, for: .publish)
        guard let doi = DOIName(text) else { throw APIError(.notFound, "unknown DOI", "\(text.prefix(100)) is not a Fairway DOI") }
        guard let status = try await PublicationStatus.load(doi: doi.description, client: client, logger: logger).first else {
            throw APIError(.notFound, "unknown DOI", "no publication has the DOI \(doi)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(status))))
    }

    private func isOwner(_ username: String, of investigation: String) async throws -> Bool {
        for try await _ in try await client.query("""
            SELECT 1 FROM investigation_members m JOIN investigations i ON i.id = m.investigation_id
            WHERE i.name = \(investigation) AND m.username = \(username) AND m.role = 'owner'
            """, logger: logger) { return true }
        return false
    }

    private func problems(_ list: [FieldProblem]) -> Response {
        raw(.unprocessableContent, ["error": "invalid publication", "detail": "\(list.count) problem\(list.count == 1 ? "" : "s") to fix",
                                    "problems": list.map { ["field": $0.field, "message": $0.message] }])
    }

    private func raw(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private func respond(_ body: () async throws -> Response) async -> Response {
        await APIError.answering(logger, body)
    }
}
