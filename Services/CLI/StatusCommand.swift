import ArgumentParser
import AsyncHTTPClient
import FairwayAMQP
import FairwayContracts
import FairwayServiceKit
import Foundation
import NIOCore
import PostgresNIO

/// `fairway status`: the installation at a glance — services, alerts, pipeline, outbox, DataCite.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show services, queues and dead letters, alerts, objects per stage, recent failures, outbox backlog and DataCite sync.",
        discussion: """
            Services are asked on their /readyz at --host and their ports (FAIRWAY_<SERVICE>_HTTP_PORT, else the \
            defaults 8080-8085); FAIRWAY_<SERVICE>_STATUS_URL, e.g. FAIRWAY_DOI_STATUS_URL=http://doi:8085, overrides one.
            Queues are read from the broker at FAIRWAY_AMQP_URL.
            Exit codes: 0 all ready, no alert, no dead letter; 2 something needs attention (listed); 1 the catalog cannot be read.
            """
    )

    @Option(help: "Host the services listen on.") var host = "127.0.0.1"
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var catalog: CatalogOptions

    struct ServiceState: Encodable { let name: String; let url: String; let ready: Bool; let detail: String }
    /// A service's queue: messages waiting, consumers attached, and its dead-letter queue's messages.
    struct QueueState: Encodable { let service: String; let queue: String; let ready: Int?; let consumers: Int?; let deadLettered: Int?; let detail: String? }
    struct Alert: Encodable { let service: String; let kind: String; let message: String; let since: Date }
    struct Failure: Encodable { let reason: String; let objects: Int }
    struct DataCite: Encodable { let publications: [String: Int]; let pending: Int; let oldestPendingSince: Date?; let fieldErrors: Int }
    struct Report: Encodable {
        let services: [ServiceState]
        let queues: [QueueState]
        let alerts: [Alert]
        let objects: [String: Int]
        let failuresLast24h: [Failure]
        let outboxUnsent: Int
        let outboxOldest: Date?
        let datacite: DataCite
    }

    func run() async throws {
        let configuration = try catalog.configuration()
        let host = host
        let services = await withTaskGroup(of: ServiceState.self) { group in
            for service in ServiceName.allCases {
                let base = configuration.values["FAIRWAY_\(service.rawValue.uppercased())_STATUS_URL"].flatMap { $0.isEmpty ? nil : $0 }
                    ?? "http://\(host):\(configuration.peerPort(of: service))"
                group.addTask { await Self.probe(service.executable, base: base) }
            }
            var states: [ServiceState] = []
            for await state in group { states.append(state) }
            return states.sorted { $0.name < $1.name }
        }
        let queues = await Self.queues(configuration)
        let report = try await catalog.withCatalog { client, logger in
            var alerts: [Alert] = []
            for try await row in try await client.query("""
                SELECT service, kind, message, raised_at FROM service_alerts WHERE cleared_at IS NULL ORDER BY raised_at
                """, logger: logger).decode((String, String, String, Date).self) {
                alerts.append(Alert(service: row.0, kind: row.1, message: row.2, since: row.3))
            }
            var objects: [String: Int] = [:]
            for try await (state, count) in try await client.query("SELECT state, count(*)::int FROM objects GROUP BY state", logger: logger)
                .decode((String, Int).self) { objects[state] = count }
            var failures: [Failure] = []
            for try await (reason, count) in try await client.query("""
                SELECT left(failure_reason, 300), count(*)::int FROM objects
                WHERE state IN ('failed', 'unsupported-format') AND updated_at > now() - interval '24 hours'
                GROUP BY 1 ORDER BY 2 DESC LIMIT 20
                """, logger: logger).decode((String, Int).self) { failures.append(Failure(reason: reason, objects: count)) }
            var outbox = (0, nil as Date?)
            for try await row in try await client.query("SELECT count(*)::int, min(created_at) FROM outbox WHERE sent_at IS NULL", logger: logger)
                .decode((Int, Date?).self) { outbox = row }
            var publications: [String: Int] = [:]
            for try await (state, count) in try await client.query("SELECT state, count(*)::int FROM publications GROUP BY state", logger: logger)
                .decode((String, Int).self) { publications[state] = count }
            var pending = (0, nil as Date?, 0)
            for try await row in try await client.query("""
                SELECT (count(*) FILTER (WHERE synced_revision < revision OR in_flight))::int,
                       min(updated_at) FILTER (WHERE synced_revision < revision OR in_flight),
                       (count(*) FILTER (WHERE field_errors <> '[]'))::int
                FROM publications
                """, logger: logger).decode((Int, Date?, Int).self) { pending = row }
            return Report(services: services, queues: queues, alerts: alerts, objects: objects, failuresLast24h: failures, outboxUnsent: outbox.0,
                          outboxOldest: outbox.1, datacite: DataCite(publications: publications, pending: pending.0,
                                                                     oldestPendingSince: pending.1, fieldErrors: pending.2))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            Self.printReport(report)
        }
        if !report.alerts.isEmpty || report.services.contains(where: { !$0.ready })
            || report.queues.contains(where: { $0.detail != nil || ($0.deadLettered ?? 0) > 0 }) { throw ExitCode(2) }
    }

    /// Each service's queue and dead-letter queue, by passive declares on one admin connection each.
    static func queues(_ configuration: FairwayConfiguration) async -> [QueueState] {
        let names = FairwayBrokerNames(namespace: configuration.brokerNamespace)
        guard let url = configuration.amqpURL, var amqp = try? AMQPConfiguration(url: url, connectionName: "fairway status (cli)") else {
            return [QueueState(service: "broker", queue: "", ready: nil, consumers: nil, deadLettered: nil, detail: "FAIRWAY_AMQP_URL is not set")]
        }
        amqp.connectTimeout = .seconds(3)
        let admin = AMQPAdmin(configuration: amqp)
        var states: [QueueState] = []
        for service in ServiceName.allCases {
            let queue = names.queue(service.rawValue)
            do throws(AMQPError) {
                let main = try await admin.queueState(queue)
                let dead = try await admin.queueState(names.deadLetterQueue(service.rawValue))
                states.append(QueueState(service: service.rawValue, queue: queue, ready: main.ready, consumers: main.consumers,
                                         deadLettered: dead.ready, detail: nil))
            } catch {
                if case .closedByBroker(404, _) = error {
                    states.append(QueueState(service: service.rawValue, queue: queue, ready: nil, consumers: nil, deadLettered: nil,
                                             detail: "not declared (the service has not run yet)"))
                } else {
                    // The broker itself is down or refuses us: one line says so.
                    return [QueueState(service: "broker", queue: "", ready: nil, consumers: nil, deadLettered: nil, detail: error.description)]
                }
            }
        }
        return states
    }

    static func probe(_ name: String, base: String) async -> ServiceState {
        var request = HTTPClientRequest(url: base + "/readyz")
        request.method = .GET
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(3))
            let body = try await response.body.collect(upTo: 64 << 10)
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            return ServiceState(name: name, url: base, ready: response.status.code == 200,
                                detail: response.status.code == 200 ? "ready" : "not ready: \(text.prefix(300))")
        } catch {
            return ServiceState(name: name, url: base, ready: false, detail: "not reachable")
        }
    }

    static func printReport(_ report: Report) {
        let time = ISO8601DateFormatter()
        print("Services")
        for service in report.services { print("  \(service.ready ? "ok  " : "DOWN") \(service.name)  \(service.url)  \(service.detail)") }
        print("Queues (ready, consumers, dead-lettered)")
        for queue in report.queues {
            if let detail = queue.detail { print("  DOWN \(queue.service)  \(queue.queue)  \(detail)"); continue }
            let dead = queue.deadLettered ?? 0
            print("  \(dead > 0 || queue.consumers == 0 ? "!!  " : "ok  ") \(queue.queue)  \(queue.ready ?? 0) ready, \(queue.consumers ?? 0) consumers, "
                  + "\(dead) dead-lettered\(dead > 0 ? " (fairway dlq list --queue \(queue.service))" : "")")
        }
        print("Alerts")
        if report.alerts.isEmpty { print("  none") }
        for alert in report.alerts { print("  \(alert.service)/\(alert.kind) since \(time.string(from: alert.since)): \(alert.message)") }
        print("Objects per stage")
        print("  " + (report.objects.isEmpty ? "none" : report.objects.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        print("Failures in the last 24 h")
        if report.failuresLast24h.isEmpty { print("  none") }
        for failure in report.failuresLast24h { print("  \(failure.objects) × \(failure.reason)") }
        print("Outbox: \(report.outboxUnsent) unsent\(report.outboxOldest.map { ", oldest \(time.string(from: $0))" } ?? "")")
        let publications = report.datacite.publications.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("DataCite: \(publications.isEmpty ? "no publications" : publications); \(report.datacite.pending) waiting to sync"
            + (report.datacite.oldestPendingSince.map { " (oldest since \(time.string(from: $0)))" } ?? "")
            + (report.datacite.fieldErrors > 0 ? "; \(report.datacite.fieldErrors) with problems to fix" : ""))
    }
}
