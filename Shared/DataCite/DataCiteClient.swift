public import AsyncHTTPClient
public import FairwayPublication
public import Foundation
import NIOCore
import NIOHTTP1

/// A DOI as DataCite holds it.
public struct RemoteDOI: Sendable, Equatable {
    public let doi: String
    /// `draft`, `registered` or `findable`.
    public let state: String
    public let url: String?
    /// The descriptive metadata DataCite holds, in a canonical form (see `DataCiteAnswer.fingerprint`),
    /// to tell whether a call whose answer was lost took effect.
    public let fingerprint: String?

    public init(doi: String, state: String, url: String?, fingerprint: String? = nil) {
        self.doi = doi; self.state = state; self.url = url; self.fingerprint = fingerprint
    }
}

/// What one call to the DataCite REST API came to. Every answer DataCite documents has its case;
/// anything else is `failed` with what was seen, never a guess.
public enum DataCiteOutcome: Sendable, Equatable {
    /// PUT answered 201 (created) or 200 (updated).
    case stored(RemoteDOI, created: Bool)
    /// GET answered 200.
    case found(RemoteDOI)
    /// DELETE answered 204.
    case deleted
    case notFound
    /// 422: the problems DataCite found, by field.
    case invalid([FieldProblem])
    /// 401 or 403: a configuration problem; retrying does not help.
    case unauthorized(String)
    /// 405: e.g. deleting a DOI that is not a draft.
    case notAllowed(String)
    /// 429, with the seconds `Retry-After` asks for.
    case rateLimited(retryAfter: Int?)
    /// 5xx.
    case unavailable(status: Int, String)
    /// No answer in time: the request may or may not have taken effect.
    case timedOut
    case failed(String)
}

/// The DataCite REST API client: JSON:API documents over HTTP Basic, one call per method, no
/// retries of its own (the caller decides, after reconciling with `get`).
public struct DataCiteClient: Sendable {
    public let baseURL: String
    let authorization: String
    let http: HTTPClient
    let timeout: TimeAmount

    public static let maxAnswerBytes = 4 << 20

    public init(baseURL: String, user: String, password: String, http: HTTPClient = .shared, timeout: Duration = .seconds(30)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        self.http = http
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
    }

    /// Creates or updates the DOI with the document's attributes (`event` moves its state).
    public func put(_ doi: DOIName, document: Data) async -> DataCiteOutcome {
        await call(.PUT, doi, body: document)
    }

    public func get(_ doi: DOIName) async -> DataCiteOutcome {
        await call(.GET, doi, body: nil)
    }

    /// Only drafts can be deleted; DataCite answers 405 for the others.
    public func delete(_ doi: DOIName) async -> DataCiteOutcome {
        await call(.DELETE, doi, body: nil)
    }

    private func call(_ method: HTTPMethod, _ doi: DOIName, body: Data?) async -> DataCiteOutcome {
        var request = HTTPClientRequest(url: "\(baseURL)/dois/\(doi.prefix)/\(doi.suffix)")
        request.method = method
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Accept", value: "application/vnd.api+json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/vnd.api+json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: Self.maxAnswerBytes)
            return DataCiteAnswer.outcome(method: method.rawValue, status: Int(response.status.code), body: Data(bytes.readableBytesView),
                                          retryAfter: response.headers.first(name: "Retry-After"))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return error == .connectTimeout ? .failed("DataCite could not be reached (connect timeout)") : .timedOut
        } catch {
            return .failed("DataCite could not be reached: \(error)")
        }
    }
}

/// Reads DataCite's answers. Bodies come from outside: every field is checked, nothing is trusted.
public enum DataCiteAnswer {
    public static func outcome(method: String, status: Int, body: Data, retryAfter: String?) -> DataCiteOutcome {
        switch status {
        case 200, 201:
            if method == "DELETE" { return .deleted }
            guard let remote = remoteDOI(body) else { return .failed("DataCite answered \(status) without a readable DOI document") }
            return method == "PUT" ? .stored(remote, created: status == 201) : .found(remote)
        case 204: return method == "DELETE" ? .deleted : .failed("DataCite answered 204 to \(method)")
        case 404: return .notFound
        case 401, 403: return .unauthorized(errorTitles(body) ?? "DataCite refused the credentials (\(status))")
        case 405: return .notAllowed(errorTitles(body) ?? "method not allowed")
        case 422: return .invalid(problems(body))
        case 429: return .rateLimited(retryAfter: retryAfter.flatMap(seconds))
        case 500 ... 599: return .unavailable(status: status, errorTitles(body) ?? "server error")
        default: return .failed("DataCite answered \(status): \(errorTitles(body) ?? "no error text")")
        }
    }

    static func remoteDOI(_ body: Data) -> RemoteDOI? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let data = object["data"] as? [String: Any], let attributes = data["attributes"] as? [String: Any],
              let doi = (attributes["doi"] as? String) ?? (data["id"] as? String),
              let state = attributes["state"] as? String, ["draft", "registered", "findable"].contains(state) else { return nil }
        return RemoteDOI(doi: doi.uppercased(), state: state, url: attributes["url"] as? String, fingerprint: fingerprint(attributes))
    }

    static let describingKeys = ["titles", "creators", "descriptions", "subjects", "rightsList", "relatedIdentifiers",
                                 "fundingReferences", "publicationYear", "types", "sizes", "formats"]

    /// The descriptive attributes as canonical JSON (sorted keys, missing ones as null), so two
    /// records can be compared whatever order their fields came in.
    static func fingerprint(_ attributes: [String: Any]) -> String? {
        let subset = Dictionary(uniqueKeysWithValues: describingKeys.map { ($0, attributes[$0] ?? NSNull()) })
        guard let data = try? JSONSerialization.data(withJSONObject: subset, options: [.sortedKeys, .withoutEscapingSlashes]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The fingerprint of a JSON:API document about to be sent.
    public static func fingerprint(ofDocument document: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: document) as? [String: Any],
              let data = object["data"] as? [String: Any], let attributes = data["attributes"] as? [String: Any] else { return nil }
        return fingerprint(attributes)
    }

    /// `{"errors": [{"source": field, "title": message}]}` as field problems; a body without them
    /// is one problem saying so.
    static func problems(_ body: Data) -> [FieldProblem] {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let errors = object["errors"] as? [[String: Any]], !errors.isEmpty else {
            return [FieldProblem(field: "", message: "DataCite refused the metadata without saying why")]
        }
        return errors.prefix(100).map { error in
            let source = (error["source"] as? String) ?? ((error["source"] as? [String: Any])?["pointer"] as? String) ?? ""
            let title = (error["title"] as? String) ?? "invalid"
            return FieldProblem(field: String(source.prefix(200)), message: String(title.prefix(500)))
        }
    }

    static func errorTitles(_ body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let errors = object["errors"] as? [[String: Any]] else { return nil }
        let titles = errors.prefix(10).compactMap { $0["title"] as? String }.map { String($0.prefix(300)) }
        return titles.isEmpty ? nil : titles.joined(separator: "; ")
    }

    /// `Retry-After`: delay-seconds or an HTTP date; at most an hour is honoured.
    static func seconds(_ value: String) -> Int? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return min(seconds, 3600) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return min(max(0, Int(date.timeIntervalSinceNow.rounded(.up))), 3600)
    }
}
