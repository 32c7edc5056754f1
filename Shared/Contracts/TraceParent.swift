import Foundation

/// A W3C Trace Context `traceparent` (`00-<trace id>-<parent id>-<flags>`): one acquisition's trace
/// id travels with every message its processing causes, across HTTP and AMQP hops, and each hop
/// has a span id of its own.
public struct TraceParent: Sendable, Equatable, CustomStringConvertible {
    /// 32 lower-case hex digits, not all zero.
    public let traceID: String
    /// 16 lower-case hex digits, not all zero: the span that caused what carries this header.
    public let parentID: String
    /// `01` sampled, `00` not.
    public let flags: String

    /// Reads a header as the specification asks: version `00` exactly as defined; a later version
    /// by its first four fields; anything malformed (or a zero id) is no trace context at all.
    public init?(_ header: String) {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.utf8.count >= 55, text.utf8.count <= 512 else { return nil }
        let fields = text.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count >= 4 else { return nil }
        let version = fields[0]
        guard Self.isHex(version, count: 2), version != "ff" else { return nil }
        if version == "00" && (fields.count != 4 || text.utf8.count != 55) { return nil }
        guard Self.isHex(fields[1], count: 32), Self.isHex(fields[2], count: 16), Self.isHex(fields[3], count: 2),
              fields[1] != Substring(String(repeating: "0", count: 32)), fields[2] != Substring(String(repeating: "0", count: 16)) else { return nil }
        traceID = String(fields[1]); parentID = String(fields[2]); flags = String(fields[3])
    }

    init(traceID: String, parentID: String, flags: String) {
        self.traceID = traceID; self.parentID = parentID; self.flags = flags
    }

    /// A new trace, sampled.
    public static func root() -> TraceParent {
        TraceParent(traceID: randomHex(bytes: 16), parentID: randomHex(bytes: 8), flags: "01")
    }

    /// The same trace with a new span id: what the next hop's messages carry.
    public func child() -> TraceParent { TraceParent(traceID: traceID, parentID: Self.randomHex(bytes: 8), flags: flags) }

    public var description: String { "00-\(traceID)-\(parentID)-\(flags)" }

    /// The trace to continue from a header: its child, or a new trace when there is none or it is bad.
    public static func continuing(_ header: String?) -> TraceParent {
        header.flatMap(TraceParent.init)?.child() ?? root()
    }

    static func isHex(_ text: Substring, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var hex = ""
        repeat {
            hex = (0..<count).map { _ in
                let byte = UInt8.random(in: 0...255, using: &generator)
                return String(byte >> 4, radix: 16) + String(byte & 0x0f, radix: 16)
            }.joined()
        } while hex.utf8.allSatisfy { $0 == 48 }
        return hex
    }
}
