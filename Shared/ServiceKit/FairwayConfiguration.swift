public import FairwayContracts
public import Foundation

/// Settings every Fairway executable reads: environment variables first, then an optional
/// `KEY=VALUE` file named by `FAIRWAY_CONFIG_FILE` (the format of Docker env files), then defaults.
public struct FairwayConfiguration: Sendable {
    /// Every variable, with its meaning, for `--help` and the README.
    public static let variables: [(name: String, meaning: String)] = [
        ("FAIRWAY_DATABASE_URL", "PostgreSQL URL, postgres://user:password@host:port/database[?sslmode=disable|prefer|require]"),
        ("FAIRWAY_AMQP_URL", "RabbitMQ URL, amqp://user:password@host:port/vhost"),
        ("FAIRWAY_HTTP_HOST", "address the HTTP endpoint binds to (default 127.0.0.1; 0.0.0.0 in containers)"),
        ("FAIRWAY_HTTP_PORT", "port of the HTTP endpoint: API (ingest), /healthz, /readyz, /metrics (default per service, 8080-8085)"),
        ("FAIRWAY_INGEST_HTTP_PORT … FAIRWAY_DOI_HTTP_PORT", "one service's port (wins over FAIRWAY_HTTP_PORT), so one configuration file serves every service; `fairway status` looks for the services there"),
        ("FAIRWAY_LOG_FORMAT", "text or json (default text)"),
        ("FAIRWAY_LOG_LEVEL", "trace, debug, info, notice, warning, error or critical (default info)"),
        ("FAIRWAY_BROKER_NAMESPACE", "prefix of the exchange and queue names (default fairway)"),
        ("FAIRWAY_PREFETCH", "unacknowledged deliveries per consumer (default 16)"),
        ("FAIRWAY_DELIVERY_LIMIT", "delivery attempts before a message is dead-lettered (default 5)"),
        ("FAIRWAY_QUIET_PERIOD", "ingest: how long a file's size and mtime must stay unchanged before it is registered, e.g. 10s, 500ms, 2m, 0 (default 10s)"),
        ("FAIRWAY_DERIVED_RESOURCE", "converter: name of the resource derived OME-TIFFs are written to (default: the one resource with role derived)"),
        ("FAIRWAY_CONVERTER_COMPRESSION", "converter: tile compression none, lzw, deflate or zstd, optionally with a level, e.g. zstd:5 (default deflate, level 6, with the predictor)"),
        ("FAIRWAY_CONVERTER_TILE", "converter: tile size in pixels, a multiple of 16 (default 512)"),
        ("FAIRWAY_CONVERTER_PARALLEL", "converter: conversions run at once, each on every core (default 1)"),
        ("FAIRWAY_CONVERTER_OME_PYRAMID_ABOVE", "converter: an OME-TIFF stays in place unless it is untiled and its longest side exceeds this many pixels; then a tiled, pyramidal copy keeps its OME-XML (default 8192; 0 never)"),
        ("FAIRWAY_PIXEL_BUDGET", "converter: largest decoded image accepted, in bytes; bigger ones are refused before reading (default 1099511627776, 1 TiB)"),
        ("FAIRWAY_EXTERNAL_CONVERTER", "converter: optional command for formats libtiff cannot read, run without a shell, {input} and {output} replaced, e.g. 'bfconvert -noflat -pyramid-resolutions 4 -tilex 512 -tiley 512 {input} {output}'"),
        ("FAIRWAY_EXTERNAL_CONVERTER_FORMATS", "converter: formats handed to that command (default czi,lif,nd2,vsi,ims,oib,oir,dv)"),
        ("FAIRWAY_EXTERNAL_CONVERTER_TIMEOUT", "converter: time after which that command is killed, e.g. 30m (default 1h)"),
        ("FAIRWAY_OME_XSD", "metadata: optional OME XML schema file (e.g. ome-2016-06.xsd) that every OME-XML must validate against; loaded with the network off"),
        ("FAIRWAY_RETENTION_INTERVAL", "retention: time between two runs of the policies, e.g. 15m (default 15m)"),
        ("FAIRWAY_RETENTION_LEASE", "retention: how long a run owns an action it started; an action of a run that died is resumed after it (default 30m)"),
        ("FAIRWAY_SMTP_URL", "retention: SMTP server for expiry notices, smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://; without it notices go to the mailbox file"),
        ("FAIRWAY_MAIL_FROM", "retention: sender address of notices (default fairway@localhost)"),
        ("FAIRWAY_NOTICE_MAILBOX", "retention: mbox file that keeps notices when there is no SMTP server or no address (default fairway-notices.mbox)"),
        ("FAIRWAY_FIXITY_BYTES_PER_SECOND", "retention: read budget of continuous fixity checks, bytes per second, e.g. 50000000 (default: no continuous checks; `fairway fixity check` still works)"),
        ("FAIRWAY_FIXITY_INTERVAL", "retention: a replica is checked again once its last verification is this old, e.g. 30d or 12h (default 30d)"),
        ("FAIRWAY_DOI_PREFIX", "doi: DataCite prefix the facility's DOIs are minted under, e.g. 10.5072"),
        ("FAIRWAY_LANDING_BASE_URL", "doi: public base URL of the landing pages; a DOI resolves to <base>/<doi>, e.g. https://data.facility.example/datasets"),
        ("FAIRWAY_PUBLISHER_NAME", "doi: the facility's name as DataCite publisher"),
        ("FAIRWAY_PUBLISHER_ROR", "doi: the facility's ROR id (optional), e.g. https://ror.org/02feahw73"),
        ("FAIRWAY_DATA_ACCESS_URL", "doi: where landing pages link each published file, {path} and {doi} replaced, e.g. https://data.facility.example/files/{doi}/{path} (default: data on request from the publisher)"),
        ("FAIRWAY_DATACITE_URL", "doi: DataCite REST API, e.g. https://api.datacite.org (test: https://api.test.datacite.org); without it and the credentials, publications stay reserved with a status saying so"),
        ("FAIRWAY_DATACITE_USER", "doi: DataCite repository account (e.g. FACILITY.DATA)"),
        ("FAIRWAY_DATACITE_PASSWORD", "doi: its password (or FAIRWAY_DATACITE_PASSWORD_FILE, a file holding it); never logged"),
        ("FAIRWAY_DATACITE_TIMEOUT", "doi: a call unanswered after this is reconciled with a GET before any retry (default 30s)"),
        ("FAIRWAY_DATACITE_RETRY_BASE", "doi: first back-off after a failed call, doubled per attempt, at least Retry-After (default 5s)"),
        ("FAIRWAY_DATACITE_RETRY_MAX", "doi: longest back-off (default 1h)"),
        ("FAIRWAY_DATACITE_LEASE", "doi: how long a worker owns a publication it syncs; a dead worker's is taken over after it (default 5m)"),
        ("FAIRWAY_DATACITE_RECONCILE_INTERVAL", "doi: synced DOIs are compared with DataCite again after this, and re-sent if they differ (default 6h)"),
        ("FAIRWAY_DATACITE_REQUESTS_PER_MINUTE", "doi: pace of calls to DataCite, 1 to 600 (default 100, DataCite's advice for bulk work)"),
        ("FAIRWAY_CONFIG_FILE", "optional file of KEY=VALUE lines for any of these; the environment wins"),
    ]

    public var databaseURL: String?
    public var amqpURL: String?
    public var httpHost: String
    public var httpPort: Int?
    /// Ports set per service (FAIRWAY_INGEST_HTTP_PORT … FAIRWAY_DOI_HTTP_PORT).
    public var servicePorts: [ServiceName: Int] = [:]
    public var logFormat: LogFormat
    public var logLevel: String
    public var brokerNamespace: String
    public var prefetch: UInt16
    public var deliveryLimit: Int
    public var quietPeriod: Duration
    /// Every FAIRWAY_ value as given (a service reads its own settings from here).
    public var values: [String: String]

    public enum LogFormat: String, Sendable { case text, json }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Reads the process environment (and the config file it names).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(Invalid) -> Self {
        var values: [String: String] = [:]
        if let path = environment["FAIRWAY_CONFIG_FILE"], !path.isEmpty {
            values = try parseFile(at: path)
        }
        values.merge(environment.filter { $0.key.hasPrefix("FAIRWAY_") }) { _, fromEnvironment in fromEnvironment }
        return try Self(values)
    }

    init(_ values: [String: String]) throws(Invalid) {
        func nonEmpty(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        func integer(_ key: String, in range: ClosedRange<Int>) throws(Invalid) -> Int? {
            guard let text = nonEmpty(key) else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw Invalid(description: "\(key)=\(text.prefix(32)) is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        self.values = values
        databaseURL = nonEmpty("FAIRWAY_DATABASE_URL")
        amqpURL = nonEmpty("FAIRWAY_AMQP_URL")
        httpHost = nonEmpty("FAIRWAY_HTTP_HOST") ?? "127.0.0.1"
        httpPort = try integer("FAIRWAY_HTTP_PORT", in: 0...65535)
        for service in ServiceName.allCases {
            if let port = try integer(Self.servicePortKey(service), in: 0...65535) { servicePorts[service] = port }
        }
        let format = nonEmpty("FAIRWAY_LOG_FORMAT") ?? "text"
        guard let logFormat = LogFormat(rawValue: format) else {
            throw Invalid(description: "FAIRWAY_LOG_FORMAT must be text or json, not '\(format.prefix(32))'")
        }
        self.logFormat = logFormat
        logLevel = nonEmpty("FAIRWAY_LOG_LEVEL") ?? "info"
        brokerNamespace = nonEmpty("FAIRWAY_BROKER_NAMESPACE") ?? "fairway"
        guard brokerNamespace.range(of: "^[a-z0-9][a-z0-9_-]{0,63}$", options: .regularExpression) != nil else {
            throw Invalid(description: "FAIRWAY_BROKER_NAMESPACE must be lower-case letters, digits, '-' or '_'")
        }
        prefetch = UInt16(try integer("FAIRWAY_PREFETCH", in: 1...10_000) ?? 16)
        deliveryLimit = try integer("FAIRWAY_DELIVERY_LIMIT", in: 1...1_000) ?? 5
        if let text = nonEmpty("FAIRWAY_QUIET_PERIOD") {
            guard let duration = Self.parseDuration(text), duration <= .seconds(86_400) else {
                throw Invalid(description: "FAIRWAY_QUIET_PERIOD=\(text.prefix(32)) is not a duration like 10s, 500ms, 2m or 0 (at most 24h)")
            }
            quietPeriod = duration
        } else {
            quietPeriod = .seconds(10)
        }
    }

    /// `10`, `10s`, `500ms`, `2m`, `1h`: a whole number with an optional unit (seconds by default).
    public static func parseDuration(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9, let value = Int64(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "", "s": return .seconds(value)
        case "ms": return .milliseconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        default: return nil
        }
    }

    /// `KEY=VALUE` lines; `#` starts a comment line; surrounding quotes around a value are removed.
    static func parseFile(at path: String) throws(Invalid) -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Invalid(description: "cannot read FAIRWAY_CONFIG_FILE \(path): \(error.localizedDescription)")
        }
        var values: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let body = line.hasPrefix("export ") ? String(line.dropFirst(7)) : line
            guard let equals = body.firstIndex(of: "="), body.startIndex != equals else {
                throw Invalid(description: "\(path):\(number + 1): expected KEY=VALUE")
            }
            let key = String(body[..<equals]).trimmingCharacters(in: .whitespaces)
            var value = String(body[body.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
        }
        return values
    }

    public func requireDatabaseURL() throws(Invalid) -> String {
        guard let databaseURL else { throw Invalid(description: "FAIRWAY_DATABASE_URL is not set (see --help)") }
        return databaseURL
    }

    public func requireAMQPURL() throws(Invalid) -> String {
        guard let amqpURL else { throw Invalid(description: "FAIRWAY_AMQP_URL is not set (see --help)") }
        return amqpURL
    }

    /// FAIRWAY_<SERVICE>_HTTP_PORT (one configuration file for every service), else
    /// FAIRWAY_HTTP_PORT, else the service's default.
    public func port(for service: ServiceName) -> Int { servicePorts[service] ?? httpPort ?? service.defaultHTTPPort }

    /// Where another process finds a service: its own port setting or its default, never the
    /// shared FAIRWAY_HTTP_PORT (which names the port of the process that reads it).
    public func peerPort(of service: ServiceName) -> Int { servicePorts[service] ?? service.defaultHTTPPort }

    static func servicePortKey(_ service: ServiceName) -> String { "FAIRWAY_\(service.rawValue.uppercased())_HTTP_PORT" }

    /// The environment section of every executable's `--help`.
    public static var helpText: String {
        "Environment:\n" + variables.map { "  \($0.name)\n      \($0.meaning)" }.joined(separator: "\n")
    }
}
