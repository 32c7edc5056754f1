@testable import FairwayServiceKit
import Foundation
import Testing
import Logging

@Suite struct ConfigurationTests {
    @Test func environmentOverridesTheConfigFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-\(UUID()).env")
        try """
            # comment
            FAIRWAY_DATABASE_URL=postgres://from-file@h/db
            export FAIRWAY_HTTP_PORT="9000"
            FAIRWAY_LOG_FORMAT='json'
            """.write(to: file, atomically: true, encoding: .utf8)
        let configuration = try FairwayConfiguration.fromEnvironment([
            "FAIRWAY_CONFIG_FILE": file.path, "FAIRWAY_HTTP_PORT": "9100", "PATH": "/bin",
        ])
        #expect(configuration.databaseURL == "postgres://from-file@h/db")
        #expect(configuration.httpPort == 9100)
        #expect(configuration.logFormat == .json)
        #expect(configuration.port(for: .qc) == 9100)
        #expect(try FairwayConfiguration.fromEnvironment([:]).port(for: .qc) == 8083)
        try? FileManager.default.removeItem(at: file)
    }

    @Test func aServicesOwnPortWinsAndOthersFindItThere() throws {
        let configuration = try FairwayConfiguration.fromEnvironment(["FAIRWAY_HTTP_PORT": "9000", "FAIRWAY_DOI_HTTP_PORT": "9185"])
        #expect(configuration.port(for: .doi) == 9185 && configuration.port(for: .qc) == 9000)
        #expect(configuration.peerPort(of: .doi) == 9185 && configuration.peerPort(of: .qc) == 8083)
    }

    @Test(arguments: [
        ["FAIRWAY_HTTP_PORT": "eighty"], ["FAIRWAY_HTTP_PORT": "70000"], ["FAIRWAY_LOG_FORMAT": "xml"],
        ["FAIRWAY_PREFETCH": "0"], ["FAIRWAY_DOI_HTTP_PORT": "-1"], ["FAIRWAY_BROKER_NAMESPACE": "Bad Name"], ["FAIRWAY_CONFIG_FILE": "/nonexistent/fairway.env"],
    ])
    func refusesInvalidSettings(environment: [String: String]) {
        #expect(throws: FairwayConfiguration.Invalid.self) { try FairwayConfiguration.fromEnvironment(environment) }
    }

    @Test func refusesAMalformedConfigFileWithTheLineNumber() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-\(UUID()).env")
        try "FAIRWAY_LOG_LEVEL=debug\nthis is not a setting\n".write(to: file, atomically: true, encoding: .utf8)
        #expect {
            try FairwayConfiguration.fromEnvironment(["FAIRWAY_CONFIG_FILE": file.path])
        } throws: { error in
            (error as? FairwayConfiguration.Invalid)?.description.contains(":2:") == true
        }
        try? FileManager.default.removeItem(at: file)
    }
}

@Suite struct SpanExportSettingsTests {
    @Test("span export is on only when an OTLP endpoint is named, off when disabled, and its protocol defaults to http/protobuf")
    func settings() {
        #expect(SpanExport.settings([:]) == nil)
        #expect(SpanExport.settings(["OTEL_EXPORTER_OTLP_ENDPOINT": "  "]) == nil)
        #expect(SpanExport.settings(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"])
                == .init(endpoint: "http://collector:4318", protocol: "http/protobuf"))
        #expect(SpanExport.settings(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/v1/traces",
                                     "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"])
                == .init(endpoint: "http://b:4318/v1/traces", protocol: "http/json"))
        #expect(SpanExport.settings(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "TRUE"]) == nil)
        #expect(SpanExport.settings(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"]) == nil)
    }

    @Test("a protocol this build cannot speak (gRPC) stops the service at start with the setting named")
    func unsupportedProtocol() {
        let logger = Logger(label: "test")
        #expect(throws: FairwayConfiguration.Invalid.self) {
            _ = try SpanExport.bootstrap(service: "fairway-test", logger: logger,
                                         environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])
        }
        do {
            _ = try SpanExport.bootstrap(service: "fairway-test", logger: logger,
                                         environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])
        } catch {
            #expect("\(error)".contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"))
        }
    }
}
