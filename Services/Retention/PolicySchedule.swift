import FairwayRetention
import Foundation
import Logging
import ServiceLifecycle

/// Runs the policies over the whole catalog at start and every interval, and over new objects
/// alone soon after they arrive (their replication): a full run reads every object, so one per
/// burst of arrivals would cost the database more the larger the catalog grows. One run at a
/// time; a failed run is logged and the next one tries again.
actor PolicySchedule: Service {
    private let engine: RetentionEngine
    private let interval: Duration
    private let logger: Logger
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var woken = false
    private var fullRunDue = true
    private var lastFullRun = ContinuousClock.now
    /// New objects the next run plans (when it is not a full one).
    private var arrived: Set<UUID> = []

    /// More arrivals than this between two runs, and the next run is a full one.
    static let mostObjectsPerRun = 10_000

    init(engine: RetentionEngine, interval: Duration, logger: Logger) {
        self.engine = engine; self.interval = interval; self.logger = logger
    }

    /// Asks for a run soon over `object` (coalesced: many calls before the run give one run).
    func wake(for object: UUID) {
        if !fullRunDue {
            arrived.insert(object)
            if arrived.count > Self.mostObjectsPerRun { fullRunDue = true; arrived = [] }
        }
        wake()
    }

    private func wake() {
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
        let full = fullRunDue || ContinuousClock.now - lastFullRun >= interval, objects = Array(arrived)
        fullRunDue = false
        arrived = []
        if full { lastFullRun = .now }
        do {
            let report = full ? try await engine.apply(at: Date()) : try await engine.apply(at: Date(), objects: objects)
            let failed = report.ran.filter { $0.state == "failed" }.count
            if !report.scheduled.isEmpty || !report.ran.isEmpty || !report.notices.isEmpty {
                logger.info("retention run", metadata: [
                    "over": "\(full ? "every object" : "\(objects.count) new objects")",
                    "scheduled": "\(report.scheduled.values.reduce(0, +))", "ran": "\(report.ran.count)", "failed": "\(failed)",
                    "notices": "\(report.notices.count)",
                ])
            }
        } catch {
            logger.error("retention run failed", metadata: ["error": "\(error)"])
            // What this run was to plan is planned by the next one, a full one.
            fullRunDue = true
        }
    }

    /// Sleeps until the next full run is due, or less when woken; a wake-up waits a second so a
    /// burst of new objects gives one run.
    private func sleep() async {
        if woken { try? await Task.sleep(for: .seconds(1)); return }
        let interval = interval - (ContinuousClock.now - lastFullRun)
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
