@testable import FairwayServiceKit
import Foundation
import Testing

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
