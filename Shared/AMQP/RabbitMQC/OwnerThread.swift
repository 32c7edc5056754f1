import CRabbitMQ
import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// What an owner thread does with its connection: publisher or consumer behaviour.
/// Every method is called on the owner thread only.
protocol ConnectionWorkload: AnyObject {
    /// Called on every (re)connect after the topology is declared.
    func attach(_ connection: RabbitConnection) throws(AMQPError)
    /// Sends queued work (publishes, acknowledgements) that the other threads handed over.
    func flush(_ connection: RabbitConnection) throws(AMQPError)
    func handle(_ frame: Frame, on connection: RabbitConnection) throws(AMQPError)
    /// The connection is gone: settle or forget what belonged to it.
    func detach(reason: AMQPError)
    /// Work handed over while no connection exists.
    func refuseQueuedWork(reason: AMQPError)
    /// Called once a stop was requested: true when the workload has nothing left in flight.
    func readyToClose(_ connection: RabbitConnection, deadline: ContinuousClock.Instant) throws(AMQPError) -> Bool
    /// The owner thread ends; the workload will not be called again.
    func finish()
}

/// The one thread that owns a rabbitmq-c connection. Other threads hand work over through the
/// workload's mailbox and `wake()`; this thread connects, declares topology, pumps frames, services
/// heartbeats and reconnects with back-off when the connection is lost.
final class OwnerThread: @unchecked Sendable {
    // Shared with other threads; everything else is touched by the owner thread only.
    private let wakeDescriptor: Int32
    private let parked = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    let status: ConnectionStatus

    private let configuration: AMQPConfiguration
    private let topology: AMQPTopology
    private let workload: any ConnectionWorkload
    private let logger: Logger

    init(configuration: AMQPConfiguration, topology: AMQPTopology, workload: any ConnectionWorkload,
         status: ConnectionStatus, logger: Logger) {
        self.configuration = configuration
        self.topology = topology
        self.workload = workload
        self.status = status
        self.logger = logger
        wakeDescriptor = fairway_wakeup_create()
        precondition(wakeDescriptor >= 0, "eventfd failed: \(errno)")
    }

    deinit { Glibc.close(wakeDescriptor) }

    /// Runs the owner loop on a dedicated thread and returns when it has closed the connection.
    func run() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                loop()
                done.resume()
            }
            thread.name = "amqp:\(configuration.connectionName)"
            thread.start()
        }
    }

    /// `run()` inside a service group: graceful shutdown drains; cancellation (another service of
    /// the group failed, e.g. the HTTP port was taken) stops the thread too, or the process never exits.
    func runAsService() async {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await run()
            } onGracefulShutdown: {
                self.requestStop()
            }
        } onCancel: {
            self.requestStop()
        }
    }

    func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        wake(force: true)
    }

    var isStopping: Bool { stopRequested.load(ordering: .sequentiallyConsistent) }

    /// Called by other threads after handing work over. Writes the eventfd only when the owner sleeps.
    func wake(force: Bool = false) {
        if force || parked.exchange(false, ordering: .sequentiallyConsistent) {
            fairway_wakeup_signal(wakeDescriptor)
        }
    }

    // MARK: Owner thread

    private func loop() {
        var attempt = 0
        while !isStopping {
            let connection = RabbitConnection()
            do throws(AMQPError) {
                try connection.open(configuration)
                try connection.declare(topology)
                try workload.attach(connection)
                attempt = 0
                status.markConnected()
                logger.info("AMQP connected", metadata: ["broker": "\(configuration.endpoint.redacted)"])
                try pump(connection)
                connection.close()
                status.markDisconnected(.shutdown)
                break
            } catch {
                connection.abandon()
                workload.detach(reason: error)
                status.markDisconnected(error)
                let delay = configuration.reconnect.delay(attempt: attempt)
                attempt += 1
                logger.warning("AMQP connection unavailable, retrying", metadata: [
                    "error": "\(error)", "retry_in_ms": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)",
                ])
                sleepRefusingWork(for: delay, reason: error)
            }
        }
        workload.refuseQueuedWork(reason: .shutdown)
        workload.finish()
    }

    /// Reads frames and sends queued work until a stop is requested and the workload has drained.
    private func pump(_ connection: RabbitConnection) throws(AMQPError) {
        var stopDeadline: ContinuousClock.Instant?
        let idleWait = min(configuration.heartbeat / 4, .seconds(1))
        while true {
            connection.setCorked(true)
            try workload.flush(connection)
            connection.setCorked(false)
            if isStopping {
                let deadline = stopDeadline ?? (ContinuousClock.now + configuration.drainTimeout)
                stopDeadline = deadline
                if try workload.readyToClose(connection, deadline: deadline) { return }
            }
            // Everything the socket has now, without blocking.
            while let frame = try connection.readFrame(timeout: .zero) {
                try workload.handle(frame, on: connection)
            }
            connection.setCorked(true)
            try workload.flush(connection)
            connection.setCorked(false)
            parked.store(true, ordering: .sequentiallyConsistent)
            if connection.hasBufferedInput { parked.store(false, ordering: .sequentiallyConsistent); continue }
            waitForSocketOrWake(connection.socketDescriptor, timeout: stopDeadline == nil ? idleWait : .milliseconds(50))
            parked.store(false, ordering: .sequentiallyConsistent)
        }
    }

    private func waitForSocketOrWake(_ socket: Int32, timeout: Duration) {
        var descriptors = [
            pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        _ = poll(&descriptors, 2, max(milliseconds, 1))
        if descriptors[1].revents != 0 {
            fairway_wakeup_drain(wakeDescriptor)
        }
    }

    /// Back-off between connection attempts; work handed over meanwhile fails fast instead of waiting.
    private func sleepRefusingWork(for delay: Duration, reason: AMQPError) {
        let end = ContinuousClock.now + delay
        while !isStopping {
            workload.refuseQueuedWork(reason: .notConnected)
            let left = end - ContinuousClock.now
            if left <= .zero { return }
            parked.store(true, ordering: .sequentiallyConsistent)
            var descriptor = pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            _ = poll(&descriptor, 1, max(milliseconds, 1))
            parked.store(false, ordering: .sequentiallyConsistent)
            if descriptor.revents != 0 {
                fairway_wakeup_drain(wakeDescriptor)
            }
        }
    }
}
