/// A path as the filesystem holds it: bytes, not necessarily UTF-8. Linux allows any byte but `/`
/// and NUL in a name, and microscope PCs do write Latin-1 names onto shares.
public struct RawPath: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    public var isUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }

    /// A readable form for the catalog: valid UTF-8 as it is, each byte of an invalid sequence as
    /// `\xNN`. The exact bytes are kept beside it whenever the two differ.
    public var display: String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var result = ""
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                result.unicodeScalars.append(Unicode.UTF8.decode(encoded))
                offset += encoded.count
            case .error(let length):
                for byte in bytes[offset ..< offset + length] {
                    result += "\\x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
                }
                offset += length
            case .emptyInput:
                return result
            }
        }
    }

    public var description: String { display }

    public func appending(_ component: RawPath) -> RawPath {
        if bytes.isEmpty { return component }
        return RawPath(bytes + [UInt8(ascii: "/")] + component.bytes)
    }

    /// The bytes with a terminating NUL, for C calls.
    var cString: [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
