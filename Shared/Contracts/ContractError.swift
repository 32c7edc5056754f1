/// Why a message body was refused. Each case names what was wrong so the dead-letter record is actionable.
public enum ContractError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyBody
    case bodyTooLarge(bytes: Int, limit: Int)
    case notJSONObject(String)
    case missingSchema
    case unsupportedSchema(found: Int, supported: Int)
    case wrongType(expected: String, found: String?)
    case malformedField(path: String, reason: String)

    public var description: String {
        switch self {
        case .emptyBody: "message body is empty"
        case .bodyTooLarge(let bytes, let limit): "message body is \(bytes) bytes, over the \(limit)-byte limit"
        case .notJSONObject(let reason): "message body is not a UTF-8 JSON object: \(reason)"
        case .missingSchema: "message body has no \"schema\" version field"
        case .unsupportedSchema(let found, let supported): "message schema version \(found) is not supported (this build reads \(supported))"
        case .wrongType(let expected, let found): "message type is \(found.map { "'\($0)'" } ?? "missing"), expected '\(expected)'"
        case .malformedField(let path, let reason): "field '\(path)': \(reason)"
        }
    }
}
