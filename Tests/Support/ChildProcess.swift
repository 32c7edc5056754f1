public import Foundation
import Glibc

/// A child process started with posix_spawn and reaped with a blocking waitpid on a thread of its
/// own. (Foundation's Process relies on SIGCHLD delivery, and here it sometimes never reaps a child
/// whose own children outlive it — the infra script starting the broker does exactly that.)
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logURL: URL
    private let exit: Task<Int32, Never>

    /// Starts `executable` with stdout and stderr to a log file and stdin from /dev/null.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-child-\(UUID()).log")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable.path, &actions, nil, argv, envp)
        guard status == 0 else { throw TestSetupError("cannot start \(executable.path): \(String(cString: strerror(status)))") }
        pid = child
        let spawned = child
        exit = Task.detached {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    var status: Int32 = 0
                    while waitpid(spawned, &status, 0) < 0 && errno == EINTR {}
                    // Exit code, or 128 + signal number as shells report it.
                    let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                    continuation.resume(returning: code)
                }
                thread.start()
            }
        }
    }

    deinit {
        // A test that failed half-way must not leave its service running.
        kill(pid, SIGKILL)
        try? FileManager.default.removeItem(at: logURL)
    }

    public func terminate() { kill(pid, SIGTERM) }

    /// Whether the process is still alive (signal 0 reaches it, and it is not a zombie).
    public var isRunning: Bool {
        guard kill(pid, 0) == 0 else { return false }
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
        return state != "Z"
    }

    /// Waits for the exit status.
    public func status() async -> Int32 { await exit.value }

    public var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
}
