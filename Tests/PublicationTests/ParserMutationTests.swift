import FairwayContracts
import FairwayDataCite
import FairwayExports
import FairwayHarvesting
import FairwayPublication
import FairwayStorage
import FairwayTestSupport
import Foundation
import Testing

/// Corpus-mutation runs of the parsers of outside data that are not TIFF (that one has its own,
/// `TIFFMutationTests`): OAI-PMH requests and resumption tokens, ISA-JSON imports, W3C
/// traceparent headers, acquisition events, DataCite answers, relative paths and publication YAML.
/// Each seed of `Tests/Corpus/<parser>/` is mutated (bits flipped, bytes inserted, deleted,
/// repeated, cut, hostile fragments spliced in) and every mutant must give a value that keeps the
/// parser's promises, or an error: never a crash or a hang. `FAIRWAY_FUZZ_ITERATIONS` (default 300
/// per seed) and `FAIRWAY_FUZZ_SEED` make runs longer or different: `Tests/fuzz-parsers`.
@Suite("parser corpus mutations")
struct ParserMutationTests {
    static let fragments: [[UInt8]] = ["%00", "..", "../", "%2e%2e%2f", "%c0%ae", "\u{0}", "\"", "\\", "{", "}", "[", "]", ":", "&", "=",
                                       "-", "\n", "\t", "\u{FEFF}", "é", "漢", "%", "%%", "'", "<", "&amp;", "9999999999999999999999",
                                       "-1", "null", "true", "[[[[[[[[[[", "{\"a\":", "ff", "00", "tag:", "#"].map { Array($0.utf8) }

    static func mutate(_ seed: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0 ... random.below(4) {
            switch random.below(7) {
            case 0 where !bytes.isEmpty: bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
            case 1: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: random.below(bytes.count + 1))
            case 2 where !bytes.isEmpty:
                let start = random.below(bytes.count)
                bytes.removeSubrange(start ..< min(bytes.count, start + 1 + random.below(16)))
            case 3 where !bytes.isEmpty:
                let start = random.below(bytes.count)
                let piece = bytes[start ..< min(bytes.count, start + 1 + random.below(32))]
                bytes.insert(contentsOf: Array(repeating: Array(piece), count: 1 + random.below(8)).flatMap { $0 }, at: random.below(bytes.count + 1))
            case 4: bytes = Array(bytes.prefix(random.below(bytes.count + 1)))
            default: bytes.insert(contentsOf: fragments[random.below(fragments.count)], at: random.below(bytes.count + 1))
            }
        }
        return bytes
    }

    /// Runs every mutant of every seed of `corpus` through `check`, which returns a broken promise or nil.
    static func run(_ corpus: String, _ check: ([UInt8]) -> String?) throws -> (accepted: Int, refused: Int) {
        let folder = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Corpus/\(corpus)")
        let seeds = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
            .map { Array(try Data(contentsOf: folder.appendingPathComponent($0))) }
        #expect(!seeds.isEmpty, "a corpus for \(corpus)")
        let iterations = Int(ProcessInfo.processInfo.environment["FAIRWAY_FUZZ_ITERATIONS"] ?? "") ?? 300
        let base = UInt64(ProcessInfo.processInfo.environment["FAIRWAY_FUZZ_SEED"] ?? "") ?? 0x5EED
        var outcome = (accepted: 0, refused: 0)
        for (index, seed) in seeds.enumerated() {
            #expect(check(seed) == nil, "\(corpus) seed \(index) itself")
            var random = SplitMix64(state: base &+ UInt64(index) &* 7919)
            for iteration in 0 ..< iterations {
                let mutant = mutate(seed, &random)
                if let broken = check(mutant) {
                    Issue.record("\(corpus) seed \(index) mutant \(iteration) (FAIRWAY_FUZZ_SEED=\(base)): \(broken); input \(String(decoding: mutant.prefix(300), as: UTF8.self).debugDescription)")
                    return outcome
                }
            }
            outcome.accepted += 1
        }
        return outcome
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("OAI-PMH requests and resumption tokens: an accepted request has a known verb and allowed arguments; an accepted token a position")
    func oai() throws {
        _ = try Self.run("oai-request") { bytes in
            guard case .success(let request) = OAIRequest.parse(Self.text(bytes)) else { return nil }
            if request.arguments.keys.contains("verb") { return "the verb among the arguments" }
            if request.arguments.values.contains(where: { $0.unicodeScalars.contains { $0.value < 0x20 } }) { return "a control character accepted" }
            return nil
        }
        _ = try Self.run("resumption-token") { bytes in
            guard let token = try? ResumptionToken(decoding: Self.text(bytes)) else { return nil }
            return token.cursor > 0 && token.afterDatestamp != nil && token.afterKey.hasPrefix("10.") ? nil : "a token without a position"
        }
    }

    @Test("ISA-JSON imports: an accepted file names only catalog names and relative logical paths")
    func isa() throws {
        _ = try Self.run("isa-json") { bytes in
            guard let plan = try? ISAImport(parsing: Data(bytes)) else { return nil }
            let names = [plan.investigation] + plan.studies.map(\.name) + plan.studies.flatMap(\.assays).map(\.name)
            if let bad = names.first(where: { !CatalogName.isValid($0) }) { return "catalog name \(bad.debugDescription) accepted" }
            let paths = plan.studies.flatMap(\.assays).flatMap(\.files).map(\.path)
            if let bad = paths.first(where: { $0.hasPrefix("/") || $0.split(separator: "/").contains("..") }) { return "path \(bad.debugDescription) accepted" }
            return nil
        }
    }

    @Test("traceparent headers: an accepted header is written back as it was read, with non-zero ids")
    func traceparent() throws {
        _ = try Self.run("traceparent") { bytes in
            guard let parsed = TraceParent(Self.text(bytes)) else { return nil }
            guard parsed.traceID.count == 32, parsed.parentID.count == 16, parsed.traceID != String(repeating: "0", count: 32) else { return "bad ids \(parsed)" }
            return TraceParent(parsed.description) == parsed ? nil : "\(parsed) does not read back"
        }
    }

    @Test("acquisition events (the JSON any AMQP client may send): decoded or refused with a contract error")
    func acquisitionEvents() throws {
        _ = try Self.run("acquisition-event") { bytes in
            guard let event = try? MessageCodec.decode(AcquisitionCompleted.self, from: bytes, checkType: false),
                  (try? event.validate()) != nil else { return nil }
            return event.zone.isEmpty || event.path.isEmpty ? "an event without zone or path validated" : nil
        }
    }

    @Test("DataCite answers: every status with any body is read into one outcome")
    func dataCiteAnswers() throws {
        let statuses = [200, 201, 204, 401, 403, 404, 405, 409, 422, 429, 500, 503]
        var index = 0
        _ = try Self.run("datacite-answer") { bytes in
            index += 1
            let outcome = DataCiteAnswer.outcome(method: index % 3 == 0 ? "GET" : "PUT", status: statuses[index % statuses.count], body: Data(bytes),
                                                 retryAfter: index % 5 == 0 ? Self.text(Array(bytes.prefix(12))) : nil)
            _ = String(describing: outcome)
            return nil
        }
    }

    @Test("relative paths: an accepted path has no empty, '.' or '..' component and is not absolute")
    func relativePaths() throws {
        _ = try Self.run("relative-path") { bytes in
            guard let path = try? RelativePath(Self.text(bytes)) else { return nil }
            if path.components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) { return "component escapes: \(path.components)" }
            return path.description.hasPrefix("/") ? "absolute path accepted" : nil
        }
    }

    @Test("publication YAML: parsed into a request or refused with a line")
    func publicationYAML() throws {
        _ = try Self.run("publication-yaml") { bytes in
            _ = try? PublicationRequest.parse(yaml: bytes)
            return nil
        }
    }
}
