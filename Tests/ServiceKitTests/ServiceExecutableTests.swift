import FairwayAMQP
import FairwayTestSupport
import Foundation
import Glibc
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// A service starts as its own database and broker user, declares and consumes its queue, reports
/// ready, and stops cleanly on SIGTERM.
@Suite(.serialized) struct ServiceExecutableTests {
    @Test func aServiceAsItsOwnUsersConsumesItsQueueIsReadyAndStopsOnSIGTERM() async throws {
        let database = try await TestDatabase.create()
        var serviceURL = URLComponents(string: try TestEnvironment.require("FAIRWAY_DOI_DATABASE_URL"))!
        serviceURL.path = "/\(database.name)"
        let port = 18085
        let service = try ChildProcess(try TestEnvironment.executable("fairway-doi"), ["serve"], environment: [
            "FAIRWAY_DATABASE_URL": serviceURL.string!,
            "FAIRWAY_AMQP_URL": try TestEnvironment.require("FAIRWAY_DOI_AMQP_URL"),
            "FAIRWAY_HTTP_PORT": "\(port)",
            "FAIRWAY_LOG_FORMAT": "json",
        ])

        let ready = try await eventually(timeout: .seconds(30), every: .milliseconds(200)) {
            await Self.get("http://127.0.0.1:\(port)/readyz")?.status == 200
        }
        #expect(ready)
        #expect(await Self.get("http://127.0.0.1:\(port)/healthz")?.status == 200)
        let metrics = await Self.get("http://127.0.0.1:\(port)/metrics")
        #expect(metrics?.body.contains("fairway_outbox_published_total") == true)
        let admin = AMQPAdmin(configuration: AMQPConfiguration(endpoint: try AMQPEndpoint(url: try TestEnvironment.amqpURL), connectionName: "test admin"))
        #expect(try await eventually(timeout: .seconds(10)) { try await admin.queueState("fairway.doi").consumers == 1 })
        _ = try await admin.queueState("fairway.doi.dlq")

        service.terminate()   // SIGTERM
        #expect(await service.status() == 0)
        let log = service.output
        #expect(log.contains("\"message\":\"stopped\""), "\(log.suffix(2000))")
        #expect(!log.contains(serviceURL.password ?? "no-password-set"), "secrets never reach the log")
        await database.drop()
    }

    @Test func aServiceWhosePortIsTakenExitsWithTheReason() async throws {
        let database = try await TestDatabase.create()
        var serviceURL = URLComponents(string: try TestEnvironment.require("FAIRWAY_DOI_DATABASE_URL"))!
        serviceURL.path = "/\(database.name)"
        // Something else listens on the port first.
        let taken = LoopbackSocket(listening: true)
        let port = taken.port
        let service = try ChildProcess(try TestEnvironment.executable("fairway-doi"), ["serve"], environment: [
            "FAIRWAY_DATABASE_URL": serviceURL.string!,
            "FAIRWAY_AMQP_URL": try TestEnvironment.require("FAIRWAY_DOI_AMQP_URL"),
            "FAIRWAY_HTTP_PORT": "\(port)",
        ])
        let exited = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) { kill(service.pid, 0) != 0 || service.output.contains("Error:") }
        #expect(exited)
        #expect(await service.status() == 1, "\(service.output.suffix(2000))")
        #expect(service.output.contains("Address already in use"))
        _ = taken
        await database.drop()
    }

    static func get(_ url: String) async -> (status: Int, body: String)? {
        guard let url = URL(string: url) else { return nil }
        guard let (data, response) = try? await URLSession.shared.data(from: url), let http = response as? HTTPURLResponse else { return nil }
        return (http.statusCode, String(decoding: data, as: UTF8.self))
    }
}
