import FairwayRetention
import Foundation
import Logging
import ServiceLifecycle

/// Re-checks replicas without pause within the read budget: the oldest verification first; when
/// every replica was verified within the interval, it waits a minute (or the interval, if shorter)
/// and looks again.
struct FixityLoop: Service {
    let checker: FixityChecker
    let interval: Duration
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var checked = 0
                do {
                    let before = Date().addingTimeInterval(-Double(interval.components.seconds))
                    let results = try await checker.checkDue(verifiedBefore: before, limit: 64)
                    checked = results.count
                } catch {
                    logger.error("fixity pass failed", metadata: ["error": "\(error)"])
                }
                if checked == 0 { try? await Task.sleep(for: min(.seconds(60), interval)) }
            }
        }
    }
}
