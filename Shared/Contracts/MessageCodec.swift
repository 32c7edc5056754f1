public import Foundation

/// Encodes and decodes message bodies: UTF-8 JSON objects carrying `"schema": 1` beside the payload fields.
/// Decoding checks the envelope before the fields, so a body from a newer producer is refused as such
/// rather than as a confusing missing field.
public enum MessageCodec {
    public static let schemaVersion = 1
    /// Bodies are small facts, not data: anything bigger is a mistake or an attack.
    public static let maxBodyBytes = 1 << 20
    public static let contentType = "application/json"

    public static func encode<Payload: FairwayMessage>(_ payload: Payload) -> [UInt8] {
        // Encoding plain Codable structs with string keys and ISO dates cannot fail.
        Array(try! encoder.encode(VersionedBody(payload: payload)))
    }

    /// Decodes a body, checking the AMQP `type` property against the payload's routing key when given.
    public static func decode<Payload: FairwayMessage>(
        _ type: Payload.Type, from body: some Collection<UInt8>, amqpType: String? = nil, checkType: Bool = true
    ) throws(ContractError) -> Payload {
        if checkType, amqpType != Payload.routingKey.rawValue {
            throw .wrongType(expected: Payload.routingKey.rawValue, found: amqpType)
        }
        let data = try checkedJSON(body, schemaRequired: !Payload.acceptsExternalProducers)
        do {
            return try decoder.decode(Payload.self, from: data)
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw .notJSONObject(String(describing: error))
        }
    }

    /// Checks size, JSON shape and schema version; returns the body as Data.
    static func checkedJSON(_ body: some Collection<UInt8>, schemaRequired: Bool = true) throws(ContractError) -> Data {
        guard !body.isEmpty else { throw .emptyBody }
        guard body.count <= maxBodyBytes else { throw .bodyTooLarge(bytes: body.count, limit: maxBodyBytes) }
        let data = Data(body)
        let probe: SchemaProbe
        do {
            probe = try decoder.decode(SchemaProbe.self, from: data)
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            throw .notJSONObject("top level is not an object")
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.last?.stringValue != "schema" {
            throw .notJSONObject("invalid JSON or UTF-8")
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw .notJSONObject(String(describing: error))
        }
        guard let schema = probe.schema ?? (schemaRequired ? nil : schemaVersion) else { throw .missingSchema }
        guard schema == schemaVersion else { throw .unsupportedSchema(found: schema, supported: schemaVersion) }
        return data
    }

    static func describe(_ error: DecodingError) -> ContractError {
        func path(_ context: DecodingError.Context, _ extra: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (extra.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .malformedField(path: path(context, key), reason: "required field is missing")
        case .typeMismatch(let type, let context):
            return .malformedField(path: path(context), reason: "expected \(type)")
        case .valueNotFound(let type, let context):
            return .malformedField(path: path(context), reason: "expected \(type), found null")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return .notJSONObject("invalid JSON or UTF-8")
        case .dataCorrupted(let context):
            return .malformedField(path: path(context), reason: context.debugDescription)
        @unknown default:
            return .notJSONObject(String(describing: error))
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = ISO8601Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 timestamp with a time zone: '\(text.prefix(64))'")
            }
            return date
        }
        return decoder
    }()
}

/// Reads only the version. Accepts a JSON number with an integral value; anything else (a string,
/// 1.5, null, true) is a malformed `schema` field.
private struct SchemaProbe: Decodable {
    let schema: Int?
    enum Key: String, CodingKey { case schema }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        guard container.contains(.schema) else { schema = nil; return }
        guard let number = try? container.decode(Double.self, forKey: .schema), number.rounded() == number, abs(number) < 1e9,
              (try? container.decode(Bool.self, forKey: .schema)) == nil else {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: [Key.schema], debugDescription: "schema must be an integer"))
        }
        schema = Int(number)
    }
}

/// `"schema": 1` written into the same JSON object as the payload's own fields.
private struct VersionedBody<Payload: Encodable>: Encodable {
    let payload: Payload
    enum Key: String, CodingKey { case schema }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(MessageCodec.schemaVersion, forKey: .schema)
        try payload.encode(to: encoder)
    }
}

/// ISO 8601 timestamps as watchers send them: with or without fractional seconds, always with a zone.
public enum ISO8601Timestamp {
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }

    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
