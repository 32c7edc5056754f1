import FairwayRetention
import Foundation
import Logging
import ServiceLifecycle

/// Runs the policies at the time of day, every interval or sooner when woken (new objects to
/// replicate). One run at a time; a failed run is logged and the next one tries again.
actor PolicySchedule: Service {
    private let engine: RetentionEngine
    private let interval: Duration
    private let logger: Logger
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var woken = false

    init(engine: RetentionEngine, interval: Duration, logger: Logger) {
        self.engine = engine; self.interval = interval; self.logger = logger
    }

    /// Asks for a run soon (coalesced: many calls before the run give one run).
    func wake() {
        woken = true
        wakeUp?.resume()
        wakeUp = nil
    }

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.runOnce()
                await self.sleep()
            }
        }
    }

    private func runOnce() async {
        woken = false
        do {
            let report = try await engine.apply(at: Date())
            let failed = report.ran.filter { $0.state == "failed" }.count
            if !report.scheduled.isEmpty || !report.ran.isEmpty || !report.notices.isEmpty {
                logger.info("retention run", metadata: [
                    "scheduled": "\(report.scheduled.values.reduce(0, +))", "ran": "\(report.ran.count)", "failed": "\(failed)",
                    "notices": "\(report.notices.count)",
                ])
            }
        } catch {
            logger.error("retention run failed", metadata: ["error": "\(error)"])
        }
    }

    /// Sleeps for the interval, or less when woken; a wake-up waits a second so a burst of new
    /// objects gives one run.
    private func sleep() async {
        if woken { try? await Task.sleep(for: .seconds(1)); return }
        let interval = interval
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: interval) }
            group.addTask { await self.waitForWake() }
            await group.next()
            group.cancelAll()
            self.wake()   // releases the waiter when the timer won
        }
        try? await Task.sleep(for: .seconds(1))
    }

    private func waitForWake() async {
        if woken { return }
        await withCheckedContinuation { wakeUp = $0 }
    }
}
