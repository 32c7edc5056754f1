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
        // Non-blocking, so a test can count the connections that queued without waiting for one.
        if listening { _ = listen(descriptor, 16); _ = fcntl(descriptor, F_SETFL, O_NONBLOCK) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }

    /// Opens and closes one connection to this socket (to show that counting works).
    public func connectOnce() -> Bool {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Connections the kernel completed on a listening socket (they queue though nothing accepted them).
    public func connectionsAttempted() -> Int {
        var count = 0
        while case let connection = accept(descriptor, nil, nil), connection >= 0 {
            close(connection)
            count += 1
        }
        return count
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freePort() -> Int { LoopbackSocket(listening: false).port }
