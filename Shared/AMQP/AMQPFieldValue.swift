/// A value in an AMQP field table (message headers, queue arguments).
public enum AMQPFieldValue: Sendable, Equatable, Hashable {
    case string(String)
    case bytes([UInt8])
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case timestamp(UInt64)
    case table([String: AMQPFieldValue])
    case array([AMQPFieldValue])
    case void

    public var stringValue: String? {
        switch self {
        case .string(let text): text
        case .bytes(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    public var intValue: Int64? {
        if case .int(let value) = self { value } else { nil }
    }

    /// The value as an operator reads it (`fairway dlq show`): text as is, tables and lists in braces.
    public var displayText: String {
        switch self {
        case .string(let text): text
        case .bytes(let bytes): String(validating: bytes, as: UTF8.self) ?? "(\(bytes.count) bytes)"
        case .bool(let value): String(value)
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .timestamp(let value): String(value)
        case .table(let table): "{" + table.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.displayText)" }.joined(separator: ", ") + "}"
        case .array(let values): "[" + values.map(\.displayText).joined(separator: ", ") + "]"
        case .void: ""
        }
    }
}
