import Foundation
public import Logging
import NIOConcurrencyHelpers

/// What every log line written while handling one message carries: its acquisition
/// (`correlation_id`), `trace_id` and `message_id`. Set by the message worker for the task that
/// handles the message; log handlers add it to each line.
public enum LogContext {
    @TaskLocal public static var metadata: Logger.Metadata = [:]
}

/// Process-wide logging: readable lines for people, or one JSON object per line for collectors.
public enum FairwayLogging {
    private static let bootstrapped = NIOLockedValueBox(false)

    public static func bootstrap(format: FairwayConfiguration.LogFormat, level: String) {
        let first = bootstrapped.withLockedValue { done in defer { done = true }; return !done }
        guard first else { return }
        let level = Logger.Level(rawValue: level.lowercased()) ?? .info
        LoggingSystem.bootstrap({ label, provider in
            var handler: any LogHandler = switch format {
            case .text: StreamLogHandler.standardError(label: label, metadataProvider: provider)
            case .json: JSONLogHandler(label: label, metadataProvider: provider)
            }
            handler.logLevel = level
            return handler
        }, metadataProvider: Logger.MetadataProvider { LogContext.metadata })
    }
}

/// One JSON object per line on standard error: time, level, label, message, metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: Any] = [
            "time": Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)),
            "level": event.level.rawValue,
            "logger": label,
            "message": "\(event.message)",
        ]
        let context = metadataProvider?.get() ?? [:]
        for (key, value) in context.merging(metadata, uniquingKeysWith: { $1 }).merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) where fields[key] == nil {
            fields[key] = "\(value)"
        }
        guard var line = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        line.append(0x0A)
        FileHandle.standardError.write(line)
    }
}
