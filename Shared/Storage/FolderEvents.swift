import Glibc

/// Change notifications for folders (Linux inotify), so a watcher scans when something happened
/// instead of only on its timer. Best effort by design: where inotify is missing or its watch limit
/// is reached, `wait` simply times out and the periodic scan does the work.
public final class FolderEvents: @unchecked Sendable {
    private let descriptor: Int32
    private var watched = Set<RawPath>()
    public private(set) var exhausted = false

    /// `nil` where inotify is not available.
    public init?() {
        descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { return nil }
    }

    deinit { close(descriptor) }

    /// Watches each folder not watched yet (creations, writes closed, renames, deletions).
    public func watch(_ folders: [RawPath]) {
        let mask = UInt32(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY | IN_ATTRIB)
        for folder in folders where !watched.contains(folder) && !exhausted {
            let result = folder.cString.withUnsafeBufferPointer { inotify_add_watch(descriptor, $0.baseAddress!, mask) }
            if result >= 0 {
                watched.insert(folder)
            } else if errno == ENOSPC {
                exhausted = true   // fs.inotify.max_user_watches reached: polling covers the rest
            }
        }
    }

    /// Blocks until something changed in a watched folder or `timeout` passes; true on a change.
    /// Events are drained: the caller rescans rather than reading them one by one.
    public func wait(timeout: Duration) -> Bool {
        let milliseconds = Int32(min(Int64(Int32.max), timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, milliseconds) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while buffer.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
        return true
    }
}
