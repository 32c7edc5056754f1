import FairwayHarvesting
import FairwayServiceKit
import Foundation
import Hummingbird
import Logging
import NIOCore

/// `GET|POST /oai`: the OAI-PMH 2.0 endpoint harvesters (aggregators, discovery portals) read
/// published datasets from, in Dublin Core and DataCite XML.
struct OAIEndpoint: Sendable {
    /// The provider, or why OAI-PMH is not offered (the settings to give).
    let provider: Result<OAIProvider, FairwayConfiguration.Invalid>
    let logger: Logger

    func add(to router: Router<BasicRequestContext>) {
        router.get("/oai") { request, _ in await answer(request.uri.query ?? "") }
        router.post("/oai") { request, _ in
            guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
                return Self.plain(.unsupportedMediaType, "OAI-PMH requests by POST are application/x-www-form-urlencoded\n")
            }
            guard let body = try? await request.body.collect(upTo: OAIRequest.maxBytes + 1), body.readableBytes <= OAIRequest.maxBytes else {
                return Self.plain(.contentTooLarge, "an OAI-PMH request is at most \(OAIRequest.maxBytes) bytes\n")
            }
            return await answer(String(buffer: body))
        }
    }

    private func answer(_ query: String) async -> Response {
        let provider: OAIProvider
        switch self.provider {
        case .failure(let missing): return Self.plain(.serviceUnavailable, "OAI-PMH is not configured: \(missing.description)\n")
        case .success(let configured): provider = configured
        }
        do {
            let document = try await provider.respond(to: query)
            return Response(status: .ok, headers: [.contentType: "text/xml; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: document)))
        } catch {
            logger.error("OAI-PMH request failed", metadata: ["error": "\(String(reflecting: error))"])
            return Self.plain(.serviceUnavailable, "The catalog could not be reached; retry later.\n")
        }
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
