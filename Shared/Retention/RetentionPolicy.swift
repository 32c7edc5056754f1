public import Foundation
import FairwayMetadata

/// A span of time in a policy: a whole number of hours, days, weeks or years (`12h`, `60d`, `2w`,
/// `5y`). Months are left out on purpose: `m` reads as minutes to PostgreSQL and as months to
/// people. The text form is also what PostgreSQL casts to an interval, so the planner computes
/// every date in SQL with calendar years.
public struct PolicyPeriod: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Unit: String, Sendable, CaseIterable { case h, d, w, y }
    public let count: Int
    public let unit: Unit

    public init(count: Int, unit: Unit) { self.count = count; self.unit = unit }

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let last = trimmed.last, let unit = Unit(rawValue: String(last).lowercased()) else { return nil }
        let digits = trimmed.dropLast()
        guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy(\.isASCII), let count = Int(digits), count >= 0 else { return nil }
        self.init(count: count, unit: unit)
    }

    public var description: String { "\(count)\(unit.rawValue)" }

    /// Approximate length, to compare periods (a year is 365.25 days).
    public var seconds: Double {
        switch unit {
        case .h: Double(count) * 3600
        case .d: Double(count) * 86_400
        case .w: Double(count) * 7 * 86_400
        case .y: Double(count) * 365.25 * 86_400
        }
    }

    /// Whole days, for the notice step a message names.
    public var days: Int { Int((seconds / 86_400).rounded()) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.seconds < rhs.seconds }
}

/// An amount of storage: `100GB` (decimal units, as disks are sold) or `100GiB` (binary).
public struct ByteCount: Sendable, Hashable, CustomStringConvertible {
    public let bytes: Int64
    public let text: String

    private static let units: [(suffix: String, factor: Int64)] = [
        ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
        ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("kB", 1000), ("KB", 1000), ("B", 1),
    ]

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let unit = Self.units.first(where: { trimmed.hasSuffix($0.suffix) }) else { return nil }
        let number = trimmed.dropLast(unit.suffix.count).trimmingCharacters(in: .whitespaces)
        guard !number.isEmpty, number.count <= 15, number.allSatisfy(\.isASCII), let value = Int64(number), value >= 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: unit.factor)
        guard !overflow else { return nil }
        self.bytes = bytes
        self.text = "\(value)\(unit.suffix)"
    }

    public var description: String { text }
}

/// How a new replica is checked before the copy it protects may be removed: `catalog` trusts the
/// checksum computed while copying, `size` also compares the size on disk, `checksum` reads the
/// replica back and compares its SHA-256 with the catalog's.
public enum VerificationLevel: String, Sendable, CaseIterable {
    case catalog, size, checksum
}

/// A setting of a policy document: given, explicitly switched off (`never`, so an investigation
/// can opt out of a facility default), or absent (the facility default, then the built-in one).
public enum PolicySetting<Value: Sendable & Hashable>: Sendable, Hashable {
    case absent, never, value(Value)

    public var value: Value? { if case .value(let value) = self { value } else { nil } }
    var isAbsent: Bool { if case .absent = self { true } else { false } }

    /// This setting, or `fallback` when this one is absent.
    func over(_ fallback: Self) -> Self { isAbsent ? fallback : self }
}

/// One retention policy document, as an operator writes it in YAML (see `RetentionPolicy.keys`).
/// Stored as JSON with the same keys and the same text values, so `policy show` gives back what
/// was set, and the planner casts the periods to intervals in SQL.
public struct RetentionPolicy: Sendable, Hashable {
    public var replicateTo: PolicySetting<String> = .absent
    public var cleanBufferAfter: PolicySetting<PolicyPeriod> = .absent
    public var tierToColdAfterNoAccess: PolicySetting<PolicyPeriod> = .absent
    public var tierTo: PolicySetting<String> = .absent
    public var verification: PolicySetting<VerificationLevel> = .absent
    public var expireAfter: PolicySetting<PolicyPeriod> = .absent
    public var `extension`: PolicySetting<PolicyPeriod> = .absent
    public var noticeBefore: PolicySetting<[PolicyPeriod]> = .absent
    public var quota: PolicySetting<ByteCount> = .absent
    public var groupLifetime: PolicySetting<PolicyPeriod> = .absent
    public var gracePeriod: PolicySetting<PolicyPeriod> = .absent

    public init() {}

    /// Every key a policy may hold, with what it means (for `--help`, errors and the README).
    public static let keys: [(name: String, meaning: String)] = [
        ("replicateTo", "vault resource every object of the landing buffer is copied to (copied, verified, recorded)"),
        ("cleanBufferAfter", "age after which the landing copy is removed, once a verified replica exists (needs replicateTo)"),
        ("tierToColdAfterNoAccess", "time without access after which hot replicas move to the cold resource"),
        ("tierTo", "cold resource to tier to (default: the only resource with role cold)"),
        ("verification", "check of a new replica before a copy is removed: catalog, size or checksum (default checksum)"),
        ("expireAfter", "age after which objects are deleted, after notices (unless extended or held)"),
        ("extension", "extra time granted once per investigation by `fairway retention extend` (needs expireAfter)"),
        ("noticeBefore", "list of times before expiry at which owners are told, e.g. [90d, 30d, 7d]"),
        ("quota", "storage of the investigation, e.g. 100GB or 2TiB; notices at 80 % and 100 %, ingest refused above"),
        ("groupLifetime", "lifetime of a temporary group, counted from the investigation's creation; its data expires then"),
        ("gracePeriod", "least time between scheduling a destructive action and running it, to cancel it (default 7d)"),
    ]

    public static let builtInGracePeriod = PolicyPeriod(count: 7, unit: .d)
    public static let builtInVerification = VerificationLevel.checksum

    /// This policy with the facility default's settings where this one has none.
    public func over(_ facility: RetentionPolicy) -> RetentionPolicy {
        var merged = RetentionPolicy()
        merged.replicateTo = replicateTo.over(facility.replicateTo)
        merged.cleanBufferAfter = cleanBufferAfter.over(facility.cleanBufferAfter)
        merged.tierToColdAfterNoAccess = tierToColdAfterNoAccess.over(facility.tierToColdAfterNoAccess)
        merged.tierTo = tierTo.over(facility.tierTo)
        merged.verification = verification.over(facility.verification)
        merged.expireAfter = expireAfter.over(facility.expireAfter)
        merged.extension = `extension`.over(facility.extension)
        merged.noticeBefore = noticeBefore.over(facility.noticeBefore)
        merged.quota = quota.over(facility.quota)
        merged.groupLifetime = groupLifetime.over(facility.groupLifetime)
        merged.gracePeriod = gracePeriod.over(facility.gracePeriod)
        return merged
    }

    /// Rules between keys, checked on the policy that applies (the investigation's over the facility's).
    public func consistencyProblems() -> [RetentionPolicyError] {
        var problems: [RetentionPolicyError] = []
        if cleanBufferAfter.value != nil, replicateTo.value == nil {
            problems.append(.init(key: "cleanBufferAfter", message: "needs replicateTo: the buffer is only cleaned once a verified replica exists"))
        }
        if `extension`.value != nil, expireAfter.value == nil {
            problems.append(.init(key: "extension", message: "needs expireAfter: there is nothing to extend"))
        }
        if let steps = noticeBefore.value, !steps.isEmpty {
            if let expiry = expireAfter.value ?? groupLifetime.value {
                for step in steps where step >= expiry {
                    problems.append(.init(key: "noticeBefore", message: "\(step) is not shorter than the time to expiry (\(expiry))"))
                }
            } else {
                problems.append(.init(key: "noticeBefore", message: "needs expireAfter or groupLifetime: notices announce an expiry"))
            }
        }
        if let grace = gracePeriod.value, grace.count == 0, grace.unit != .h {
            // 0h is allowed on purpose (tests, a facility that wants none); 0d reads like a typo.
            problems.append(.init(key: "gracePeriod", message: "write 0h to run destructive actions without a grace period"))
        }
        return problems
    }
}

/// Why a policy was refused, naming the key (and the line of the file when known).
public struct RetentionPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let key: String?
    public let line: Int?
    public let message: String

    public init(key: String?, line: Int? = nil, message: String) {
        self.key = key; self.line = line; self.message = message
    }

    public var description: String {
        var prefix = key ?? ""
        if let line { prefix += prefix.isEmpty ? "line \(line)" : " (line \(line))" }
        return prefix.isEmpty ? message : "\(prefix): \(message)"
    }
}

// MARK: - Reading and writing

extension RetentionPolicy {
    /// Reads a YAML policy (the subset of `KeyValueFile`: one flat mapping; lists inline or as
    /// blocks). Unknown keys, repeated keys and values of the wrong form are refused with the key.
    public static func parse(yaml bytes: [UInt8]) throws(RetentionPolicyError) -> RetentionPolicy {
        let entries: [KeyValueEntry]
        do { entries = try KeyValueFile.parse(bytes, format: .yaml) } catch {
            // The YAML reader names a repeated key in its message; the policy error names it as the key.
            let quoted = error.message.firstRange(of: /key '([^']{1,64})'/).map { String(error.message[$0].dropFirst(5).dropLast()) }
            throw RetentionPolicyError(key: quoted, line: error.line, message: error.message)
        }
        var grouped: [(key: String, values: [String], line: Int)] = []
        for entry in entries {
            if let index = grouped.firstIndex(where: { $0.key == entry.key }) {
                guard entry.key == "noticeBefore" else {
                    throw RetentionPolicyError(key: entry.key, line: entry.line, message: "given twice (first on line \(grouped[index].line))")
                }
                grouped[index].values.append(entry.value)
            } else {
                grouped.append((entry.key, [entry.value], entry.line))
            }
        }
        var policy = RetentionPolicy()
        for (key, values, line) in grouped {
            try policy.set(key: key, values: values, line: line)
        }
        return policy
    }

    /// Reads the JSON form stored in `retention_policies.policy`.
    public static func parse(json data: Data) throws(RetentionPolicyError) -> RetentionPolicy {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw RetentionPolicyError(key: nil, message: "the stored policy is not a JSON object")
        }
        var policy = RetentionPolicy()
        for key in object.keys.sorted() {
            let values: [String]
            switch object[key] {
            case let text as String: values = [text]
            case let list as [String]: values = list
            default: throw RetentionPolicyError(key: key, message: "the stored value is neither text nor a list of text")
            }
            try policy.set(key: key, values: values, line: nil, emptyListAllowed: true)
        }
        return policy
    }

    private mutating func set(key: String, values: [String], line: Int?, emptyListAllowed: Bool = false) throws(RetentionPolicyError) {
        func single() throws(RetentionPolicyError) -> String {
            guard values.count == 1 else { throw RetentionPolicyError(key: key, line: line, message: "takes one value, not a list") }
            return values[0].trimmingCharacters(in: .whitespaces)
        }
        func period() throws(RetentionPolicyError) -> PolicySetting<PolicyPeriod> {
            let text = try single()
            if text == "never" { return .never }
            guard let period = PolicyPeriod(text) else {
                throw RetentionPolicyError(key: key, line: line, message: "'\(text.prefix(40))' is not a period; write a whole number and h, d, w or y (e.g. 60d, 2y), or never")
            }
            return .value(period)
        }
        func name() throws(RetentionPolicyError) -> PolicySetting<String> {
            let text = try single()
            if text == "never" { return .never }
            guard text.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", options: .regularExpression) != nil else {
                throw RetentionPolicyError(key: key, line: line, message: "'\(text.prefix(40))' is not a resource name")
            }
            return .value(text)
        }
        switch key {
        case "replicateTo": replicateTo = try name()
        case "tierTo": tierTo = try name()
        case "cleanBufferAfter": cleanBufferAfter = try period()
        case "tierToColdAfterNoAccess": tierToColdAfterNoAccess = try period()
        case "expireAfter": expireAfter = try period()
        case "extension": `extension` = try period()
        case "groupLifetime": groupLifetime = try period()
        case "gracePeriod": gracePeriod = try period()
        case "verification":
            let text = try single()
            guard let level = VerificationLevel(rawValue: text) else {
                throw RetentionPolicyError(key: key, line: line, message: "'\(text.prefix(40))' is not one of catalog, size, checksum")
            }
            verification = .value(level)
        case "quota":
            let text = try single()
            if text == "never" { quota = .never; return }
            guard let bytes = ByteCount(text) else {
                throw RetentionPolicyError(key: key, line: line, message: "'\(text.prefix(40))' is not an amount of storage; write e.g. 100GB or 2TiB")
            }
            quota = .value(bytes)
        case "noticeBefore":
            if values == ["never"] { noticeBefore = .never; return }
            var steps: [PolicyPeriod] = []
            for text in values {
                guard let step = PolicyPeriod(text), step.count > 0 else {
                    throw RetentionPolicyError(key: key, line: line, message: "'\(text.prefix(40))' is not a period before expiry; write e.g. [90d, 30d, 7d]")
                }
                guard !steps.contains(step) else { throw RetentionPolicyError(key: key, line: line, message: "\(step) is listed twice") }
                steps.append(step)
            }
            guard !steps.isEmpty || emptyListAllowed else { throw RetentionPolicyError(key: key, line: line, message: "the list is empty; write never for no notices") }
            noticeBefore = .value(steps.sorted(by: >))
        default:
            let known = Self.keys.map(\.name).joined(separator: ", ")
            throw RetentionPolicyError(key: key, line: line, message: "not a policy key; the keys are \(known)")
        }
    }

    /// The JSON stored in the catalog: each set key with its text (lists as arrays, `never` kept).
    public var json: [String: Any] {
        var object: [String: Any] = [:]
        func put<T>(_ key: String, _ setting: PolicySetting<T>, _ text: (T) -> Any) {
            switch setting {
            case .absent: break
            case .never: object[key] = "never"
            case .value(let value): object[key] = text(value)
            }
        }
        put("replicateTo", replicateTo) { $0 }
        put("cleanBufferAfter", cleanBufferAfter) { $0.description }
        put("tierToColdAfterNoAccess", tierToColdAfterNoAccess) { $0.description }
        put("tierTo", tierTo) { $0 }
        put("verification", verification) { $0.rawValue }
        put("expireAfter", expireAfter) { $0.description }
        put("extension", `extension`) { $0.description }
        put("noticeBefore", noticeBefore) { $0.map(\.description) }
        put("quota", quota) { $0.text }
        put("groupLifetime", groupLifetime) { $0.description }
        put("gracePeriod", gracePeriod) { $0.description }
        return object
    }

    public var jsonText: String {
        let data = try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// The policy as YAML in the order of `keys`, with `# default` lines for what applies unset.
    public var yaml: String {
        let object = json
        return Self.keys.compactMap { key in
            switch object[key.name] {
            case let list as [String]: "\(key.name): [\(list.joined(separator: ", "))]"
            case let text as String: "\(key.name): \(text)"
            default: nil
            }
        }.joined(separator: "\n")
    }
}
