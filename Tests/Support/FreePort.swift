import Glibc

/// A TCP socket bound to a port the kernel picked on 127.0.0.1, listening or not.
public final class LoopbackSocket: @unchecked Sendable {
    public let port: Int
    private let descriptor: Int32

    public init(listening: Bool) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        if listening { _ = listen(descriptor, 1) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freePort() -> Int { LoopbackSocket(listening: false).port }
