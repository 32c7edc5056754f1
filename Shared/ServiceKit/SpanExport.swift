public import Foundation
import Instrumentation
public import Logging
#if canImport(OTel)
import OTel
#endif
public import ServiceLifecycle

/// Span export over OTLP (swift-otel), on when the standard OpenTelemetry settings name an
/// endpoint: `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), with
/// `OTEL_EXPORTER_OTLP_PROTOCOL` `http/protobuf` (the default) or `http/json`. The other
/// `OTEL_*` settings (headers, timeouts, sampler, batch delays, service name) apply as the
/// specification says. Logs and metrics stay where they are (stderr, `/metrics`).
public enum SpanExport {
    public struct Settings: Sendable, Equatable {
        public var endpoint: String
        public var `protocol`: String
    }

    /// Whether this build has the exporter (sanitizer builds leave it out: FAIRWAY_WITHOUT_OTLP=1).
    #if canImport(OTel)
    public static let isBuiltIn = true
    #else
    public static let isBuiltIn = false
    #endif

    /// The endpoint to export to, or nil when export is not configured or switched off.
    public static func settings(_ environment: [String: String]) -> Settings? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } }
        if value("OTEL_SDK_DISABLED")?.lowercased() == "true" || value("OTEL_TRACES_EXPORTER")?.lowercased() == "none" { return nil }
        guard let endpoint = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ?? value("OTEL_EXPORTER_OTLP_ENDPOINT") else { return nil }
        return Settings(endpoint: endpoint,
                        protocol: value("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? value("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf")
    }

    /// Installs the exporting tracer when configured and returns the service that sends the
    /// batches (to run first in the service group, so it stops last and flushes the others' spans).
    public static func bootstrap(service: String, logger: Logger,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (any Service)? {
        guard let settings = settings(environment) else { return nil }
        guard ["http/protobuf", "http/json"].contains(settings.protocol) else {
            throw FairwayConfiguration.Invalid(description: "OTEL_EXPORTER_OTLP_PROTOCOL=\(settings.protocol) is not supported: use http/protobuf or http/json")
        }
        #if canImport(OTel)
        var configuration = OTel.Configuration.default
        configuration.serviceName = service
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.propagators = [.traceContext]
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        do {
            let backend = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(backend.factory)
            logger.info("exporting spans", metadata: ["endpoint": "\(settings.endpoint)", "protocol": "\(settings.protocol)"])
            return backend.service
        } catch {
            throw FairwayConfiguration.Invalid(description: "span export to \(settings.endpoint) could not be set up: \(error)")
        }
        #else
        throw FairwayConfiguration.Invalid(description: "this build has no span exporter (built with FAIRWAY_WITHOUT_OTLP=1): unset OTEL_EXPORTER_OTLP_ENDPOINT")
        #endif
    }
}
