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
}
