import Foundation

/// Blocking work (a conversion, a file's metadata) run on threads of its own, not the cooperative
/// pool, at most `limit` at once: what a C library reads or decodes stays bounded in memory and
/// CPU however many messages are in flight.
public actor BlockingSlots {
    private let limit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Runs `work` on a thread of its own when a slot is free.
    public func run<Value: Sendable, Failure: Error>(_ work: @escaping @Sendable () throws(Failure) -> Value) async throws(Failure) -> Value {
        if running >= limit { await withCheckedContinuation { waiting.append($0) } } else { running += 1 }
        defer {
            if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
        }
        let result: Result<Value, Failure> = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: Result { () throws(Failure) in try work() }) }.start()
        }
        return try result.get()
    }
}
